//! A fresh PostgreSQL database per test.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// Environment variable holding the admin URL of the test cluster.
pub const DATABASE_URL_VAR: &str = "CEP_TEST_DATABASE_URL";

/// A database created for one test, named `test_<uuid v7>`, with a pool connected to it.
///
/// Dropping this value drops the database, unless the thread is panicking: a failed
/// test's data stays in the test cluster for inspection (`scripts/test-postgres.sh
/// start` drops those created more than an hour ago, their age being in their UUID v7
/// name). A whole run's databases would otherwise fill a small disk: a few hundred
/// tests leave gigabytes. [`TestDatabase::drop_database`] drops it at once.
#[derive(Debug)]
pub struct TestDatabase {
    /// Pool connected to the fresh database.
    pub pool: PgPool,
    /// URL of the fresh database, for code under test that connects by itself.
    pub url: String,
    /// Name of the fresh database.
    pub name: String,
    admin_url: String,
    /// Set once the database is gone, so that `Drop` has nothing left to do.
    dropped: bool,
}

impl TestDatabase {
    /// Creates a fresh empty database in the cluster named by `CEP_TEST_DATABASE_URL`.
    ///
    /// # Panics
    ///
    /// When the variable is unset or the cluster cannot be reached.
    pub async fn create() -> TestDatabase {
        let admin_url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!("set CEP_TEST_DATABASE_URL (make test does it)");
        });
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster at {admin_url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"create database "{name}""#)))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        // closing politely is optional: the server notices the dropped socket
        let _ = admin.close().await;

        let options = PgConnectOptions::from_str(&admin_url)
            .unwrap_or_else(|e| panic!("bad {DATABASE_URL_VAR} {admin_url}: {e}"))
            .database(&name)
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        TestDatabase {
            pool,
            url,
            name,
            admin_url,
            dropped: false,
        }
    }

    /// The pool connected to the fresh database.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL of the fresh database.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs the given migrations on the fresh database.
    ///
    /// # Panics
    ///
    /// When a migration fails.
    pub async fn migrate(&self, migrator: &sqlx::migrate::Migrator) {
        migrator
            .run(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("migrations failed on {}: {e}", self.name));
    }

    /// Closes the pool and drops the database (terminating leftover connections).
    ///
    /// # Panics
    ///
    /// When the cluster cannot be reached.
    pub async fn drop_database(mut self) {
        self.pool.close().await;
        drop_named(&self.admin_url, &self.name)
            .await
            .unwrap_or_else(|e| panic!("cannot drop test database {}: {e}", self.name));
        self.dropped = true;
    }
}

impl Drop for TestDatabase {
    /// Drops the database of a test that did not fail, on a thread of its own (this
    /// may run inside the test's runtime, which cannot be blocked on). A failure to
    /// drop is only reported: the stale-database sweep removes it later.
    fn drop(&mut self) {
        if self.dropped || std::thread::panicking() {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(sqlx::Error::Io)?;
            runtime.block_on(drop_named(&admin_url, &name))
        });
        match dropping.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database {} left behind: {e}", self.name),
            Err(_) => eprintln!("test database {} left behind", self.name),
        }
    }
}

/// Drops database `name` of the cluster at `admin_url`, ending its connections.
async fn drop_named(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        r#"drop database if exists "{name}" with (force)"#
    )))
    .execute(&mut admin)
    .await?;
    let _ = admin.close().await;
    Ok(())
}

/// Replaces the database (path) of a `postgres://` URL, keeping its query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:55433/postgres", "test_x"),
            "postgres://postgres@127.0.0.1:55433/test_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "t"),
            "postgres://u:p@h:1/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "t"), "postgres://h:1/t");
    }
}
