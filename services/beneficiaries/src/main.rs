//! `beneficiaries serve | migrate | check-config`.

use anyhow::Context;
use beneficiaries::Application;
use beneficiaries::settings::{SERVICE, Settings};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = SERVICE, about = "The CEP beneficiaries service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server (the default).
    Serve,
    /// Apply the database migrations and exit (run once per release, e.g. a Helm hook).
    Migrate,
    /// Load and validate the settings as `serve` would, without connecting anything.
    CheckConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load().context("loading settings")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            #[allow(clippy::print_stdout)]
            {
                println!("configuration ok");
            }
            Ok(())
        }
        Command::Migrate => {
            let telemetry = cep_kit::telemetry::init(SERVICE, &settings.telemetry)?;
            let pool = cep_kit::db::connect(&settings.database).await?;
            beneficiaries::migrate(&pool)
                .await
                .context("applying migrations")?;
            tracing::info!("migrations applied");
            telemetry.shutdown().await;
            Ok(())
        }
        Command::Serve => {
            let telemetry = cep_kit::telemetry::init(SERVICE, &settings.telemetry)?;
            let app = Application::build(settings, cep_domain::SystemClock::shared()).await?;
            let result = app.run_until_stopped(cep_kit::shutdown::signal()).await;
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "service failed");
            }
            telemetry.shutdown().await;
            result
        }
    }
}
