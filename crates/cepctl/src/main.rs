//! `cepctl`: the operator's command line for the CEP services.
//!
//! Addresses come from the environment the local stack writes to `.local/stack.env`
//! (`CEP_BENEFICIARIES_ADDR`, `CEP_JOURNEYS_ADDR`) or from flags; the bearer token from `--token` or
//! `CEP_TOKEN`. `cepctl dev-token` mints a token the local stack accepts. Errors are
//! plain sentences, one line per bad field ([`failure`]), JSON with `--output json`.

mod beneficiary;
mod call;
mod claim;
mod deliverable;
mod dev_token;
mod exchange;
mod failure;
mod journey;
mod output;
mod pki;
mod purchase_order;
mod reference;

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
    /// The beneficiaries service: HOST:PORT or a URL.
    #[arg(
        long,
        global = true,
        env = "CEP_BENEFICIARIES_ADDR",
        default_value = "127.0.0.1:50051"
    )]
    beneficiaries_addr: String,
    /// The journeys service: HOST:PORT or a URL.
    #[arg(
        long,
        global = true,
        env = "CEP_JOURNEYS_ADDR",
        default_value = "http://127.0.0.1:50052"
    )]
    journeys_addr: String,
    /// The deliverables service: HOST:PORT or a URL.
    #[arg(
        long,
        global = true,
        env = "CEP_DELIVERABLES_ADDR",
        default_value = "http://127.0.0.1:50053"
    )]
    deliverables_addr: String,
    /// The claims service: HOST:PORT or a URL.
    #[arg(
        long,
        global = true,
        env = "CEP_CLAIMS_ADDR",
        default_value = "http://127.0.0.1:50054"
    )]
    claims_addr: String,
    /// The exchange service: HOST:PORT or a URL.
    #[arg(
        long,
        global = true,
        env = "CEP_EXCHANGE_ADDR",
        default_value = "http://127.0.0.1:50055"
    )]
    exchange_addr: String,
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
    /// The reference tables in force (codes and labels), as the beneficiaries service
    /// holds them.
    #[command(subcommand)]
    Reference(reference::Command),
    /// Purchase orders and their consumption (journeys service).
    #[command(subcommand)]
    Po(purchase_order::Command),
    /// Units of work from the aiguillage to their closure (journeys service).
    #[command(subcommand)]
    Journey(journey::Command),
    /// The deliverables of the UOs, from the draft to the signatures (deliverables service).
    #[command(subcommand)]
    Deliverable(deliverable::Command),
    /// Claims and mediation (claims service).
    #[command(subcommand)]
    Claim(claim::Command),
    /// The exchange with France compétences: daily files, delivery, indicators (exchange service).
    #[command(subcommand)]
    Exchange(exchange::Command),
    /// The local stack's test certificate authority (deliverables' signatures).
    #[command(subcommand)]
    Pki(pki::Command),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::DevToken(args) => dev_token::run(args),
        Command::Beneficiary(cmd) => {
            beneficiary::run(cmd, cli.token, &cli.beneficiaries_addr, cli.output).await
        }
        Command::Reference(cmd) => {
            reference::run(cmd, cli.token, &cli.beneficiaries_addr, cli.output).await
        }
        Command::Po(cmd) => {
            purchase_order::run(cmd, cli.token, &cli.journeys_addr, cli.output).await
        }
        Command::Journey(cmd) => journey::run(cmd, cli.token, &cli.journeys_addr, cli.output).await,
        Command::Pki(cmd) => pki::run(cmd),
        Command::Claim(cmd) => claim::run(cmd, cli.token, &cli.claims_addr, cli.output).await,
        Command::Exchange(cmd) => {
            exchange::run(cmd, cli.token, &cli.exchange_addr, cli.output).await
        }
        Command::Deliverable(cmd) => {
            deliverable::run(cmd, cli.token, &cli.deliverables_addr, cli.output).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            failure::report(&e, cli.output);
            std::process::ExitCode::FAILURE
        }
    }
}
