//! The commands of every service binary: `serve` (the default), `migrate`,
//! `check-config`, and the service's own ([`Service::Command`]).

use anyhow::Context as _;
use cep_kit::settings::ServiceSettings;
use clap::{ArgMatches, FromArgMatches, Subcommand};

use crate::app::connect_database;
use crate::{Application, Context, Service};

/// The runtime's commands.
#[derive(Debug, Subcommand)]
enum Builtin {
    /// Run the gRPC server (the default).
    Serve,
    /// Apply the database migrations and exit (run once per release, e.g. a Helm hook).
    Migrate,
    /// Load and validate the settings as `serve` would, without connecting anything.
    CheckConfig,
    /// The outbox of events waiting to be published.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List the parked events (refused too many times by the server, e.g. no stream
    /// for their subject, a payload over its limit): id, subject, key, when, tries and
    /// the last refusal; never their payload.
    Parked {
        #[command(flatten)]
        filter: ParkedArgs,
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Make parked events eligible again, once the cause is fixed; all of them unless
    /// a filter is given.
    Replay {
        #[command(flatten)]
        filter: ParkedArgs,
    },
}

#[derive(Debug, clap::Args)]
struct ParkedArgs {
    /// Only the events of this exact subject.
    #[arg(long)]
    subject: Option<String>,
    /// Only the events about this record (e.g. a beneficiary id).
    #[arg(long)]
    key: Option<String>,
    /// Only this event (its id).
    #[arg(long)]
    id: Option<uuid::Uuid>,
}

impl From<ParkedArgs> for cep_bus::ParkedFilter {
    fn from(a: ParkedArgs) -> Self {
        cep_bus::ParkedFilter {
            subject: a.subject,
            key: a.key,
            id: a.id,
        }
    }
}

/// The [`Service::Command`] of a service with no commands of its own.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum NoCommand {}

/// The whole `main` of a service: parses the command line, loads the settings and
/// runs the command (`serve` when none is given).
///
/// # Errors
///
/// Bad settings (naming the key), an unreachable database, a failed command.
pub async fn main<S: Service>() -> anyhow::Result<()> {
    let command = clap::Command::new(S::NAME)
        .about(format!("The CEP {} service", S::NAME))
        .version(env!("CARGO_PKG_VERSION"));
    let command = S::Command::augment_subcommands(Builtin::augment_subcommands(command));
    let matches = command.get_matches();
    run::<S>(&matches).await
}

async fn run<S: Service>(matches: &ArgMatches) -> anyhow::Result<()> {
    let settings =
        ServiceSettings::<S::Settings>::load(S::NAME, S::DEFAULTS).context("loading settings")?;
    let builtin = match matches.subcommand_name() {
        None => Some(Builtin::Serve),
        Some(name) if Builtin::has_subcommand(name) => Some(Builtin::from_arg_matches(matches)?),
        Some(_) => None,
    };
    if let Some(Builtin::CheckConfig) = builtin {
        #[allow(clippy::print_stdout)]
        {
            println!("configuration ok");
        }
        return Ok(());
    }
    let telemetry = cep_kit::telemetry::init(S::NAME, &settings.common.telemetry)?;
    let clock = cep_domain::SystemClock::shared();
    let result = match builtin {
        Some(Builtin::Serve) => {
            let app = Application::<S>::build(settings, clock).await?;
            app.run_until_stopped(cep_kit::shutdown::signal()).await
        }
        Some(Builtin::Migrate) => {
            let pool = connect_database(&settings, S::migrations(), true).await?;
            let metrics = cep_kit::metrics::Metrics::new(S::NAME)?;
            let ctx = Context {
                settings: &settings,
                pool,
                clock: clock.clone(),
                metrics,
                bus: crate::BusHandle::default(),
            };
            S::upgrade(&ctx)
                .await
                .context("upgrading the stored data")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Some(Builtin::CheckConfig) => Ok(()),
        Some(Builtin::Outbox(OutboxCommand::Parked { filter, limit })) => {
            let pool = connect_database(&settings, S::migrations(), false).await?;
            let rows = cep_bus::list_parked(&pool, Some(&filter.into()), limit).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{} parked event(s)", rows.len());
                for r in rows {
                    println!(
                        "{}  {}  key={}  created={}  parked={}  attempts={}  last refusal: {}",
                        r.id,
                        r.subject,
                        r.key.as_deref().unwrap_or("-"),
                        r.created_at.to_rfc3339(),
                        r.parked_at.to_rfc3339(),
                        r.attempts,
                        r.last_error.as_deref().unwrap_or("-"),
                    );
                }
            }
            Ok(())
        }
        Some(Builtin::Outbox(OutboxCommand::Replay { filter })) => {
            let pool = connect_database(&settings, S::migrations(), false).await?;
            let replayed = cep_bus::replay_parked(&pool, Some(&filter.into())).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{replayed} parked event(s) made eligible again");
            }
            Ok(())
        }
        None => {
            let own = S::Command::from_arg_matches(matches)?;
            let pool = connect_database(&settings, S::migrations(), false).await?;
            let metrics = cep_kit::metrics::Metrics::new(S::NAME)?;
            let ctx = Context {
                settings: &settings,
                pool,
                clock,
                metrics,
                bus: crate::BusHandle::default(),
            };
            S::command(&ctx, own).await
        }
    };
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "command failed");
    }
    telemetry.shutdown().await;
    result
}
