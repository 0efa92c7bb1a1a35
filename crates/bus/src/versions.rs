//! Applying a record's events newest-only, for consumers (see the ordering contract in
//! the crate docs): events of one record normally arrive in version order, but a
//! replayed parked row, a dead letter replayed after a fix or a republished copy can
//! bring an older version after a newer one.

use sqlx::PgConnection;

/// Whether an event at version `incoming` is newer than the version a consumer holds
/// (`None`: it holds nothing about the record yet), i.e. whether to apply it. For a
/// consumer that keeps the version in its own row (`... where version < $incoming`);
/// [`apply_if_newer`] keeps it in the `applied_versions` table instead.
#[must_use]
pub fn is_newer(held: Option<i64>, incoming: i64) -> bool {
    held.is_none_or(|held| incoming > held)
}

/// Records that `consumer` applies version `version` of record `key` and returns
/// `true`, unless it already applied that version or a newer one (then `false`, and
/// nothing changes): call it first in the handler's transaction and apply the event
/// only on `true`, so the check and the effect commit together. Concurrent calls for
/// one key serialize on its `applied_versions` row.
///
/// ```no_run
/// # use cep_bus::{handler_fn, HandlerError};
/// let handler = handler_fn(|conn, delivery| {
///     Box::pin(async move {
///         let (key, version) = ("0190b7a8-0000-7000-8000-000000000001", 3); // from the event
///         if cep_bus::apply_if_newer(conn, delivery.consumer(), key, version).await? {
///             // apply the event through `conn`
///         }
///         Ok::<_, HandlerError>(())
///     })
/// });
/// ```
///
/// # Errors
///
/// When the statement fails (a [`crate::HandlerError::Transient`] through `?`).
pub async fn apply_if_newer(
    conn: &mut PgConnection,
    consumer: &str,
    key: &str,
    version: i64,
) -> Result<bool, sqlx::Error> {
    let applied = sqlx::query(
        "insert into applied_versions (consumer, key, version) values ($1, $2, $3) \
         on conflict (consumer, key) do update \
         set version = excluded.version, applied_at = now() \
         where applied_versions.version < excluded.version",
    )
    .bind(consumer)
    .bind(key)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(applied.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::is_newer;

    #[test]
    fn only_a_version_above_the_one_held_is_newer() {
        assert!(is_newer(None, 1));
        assert!(is_newer(Some(3), 4));
        assert!(!is_newer(Some(4), 4), "a redelivery of the version held");
        assert!(!is_newer(Some(4), 3), "an older version arriving late");
    }
}
