//! `cepctl`: the operator's command line for the CEP services.
//!
//! Addresses come from the environment the local stack writes to `.local/stack.env`
//! (`CEP_BENEFICIARIES_ADDR`, …) or from flags; the bearer token from `--token` or
//! `CEP_TOKEN`. `cepctl dev-token` mints a token the local stack accepts.

mod beneficiary;
mod dev_token;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cepctl", version, about = "Operate the CEP information system")]
struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = output::Format::Table)]
    output: output::Format,
    /// Bearer token (see `cepctl dev-token`).
    #[arg(long, global = true, env = "CEP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a token the local stack accepts (refused when the stack runs in production mode).
    DevToken(dev_token::Args),
    /// The people counselled (beneficiaries service).
    #[command(subcommand)]
    Beneficiary(beneficiary::Command),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::DevToken(args) => dev_token::run(args),
        Command::Beneficiary(cmd) => beneficiary::run(cmd, cli.token, cli.output).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
