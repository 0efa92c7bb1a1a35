//! `cepctl dev-token`: a token signed with the key the local stack generated.

use std::path::PathBuf;

use anyhow::{Context, bail};
use cep_kit::auth::{Claims, DEFAULT_MAX_TOKEN_LIFETIME_MINUTES, DEV_ISSUER, Role};

/// The longest lifetime `--hours` takes: the services' default maximum
/// (`auth.max_token_lifetime_minutes`), so a development token is never refused for it.
const MAX_HOURS: i64 = (DEFAULT_MAX_TOKEN_LIFETIME_MINUTES / 60) as i64;

/// The services of the local stack: a development token opens them all unless
/// `--audience` names some.
pub const LOCAL_SERVICES: [&str; 6] = [
    "beneficiaries",
    "journeys",
    "deliverables",
    "claims",
    "exchange",
    "pra",
];

#[derive(clap::Args)]
pub struct Args {
    /// Role(s) of the caller: counsellor, manager, director, mediation, si, sre, auditor.
    #[arg(long = "role", required = true)]
    roles: Vec<Role>,
    /// Lot(s) the caller works in (1–19).
    #[arg(long = "lot", required = true)]
    lots: Vec<u8>,
    /// Structure(s) the caller is limited to (ids of 1–64 characters among a–z, 0–9,
    /// "-", "_"); none: every structure of its lots.
    #[arg(long = "structure")]
    structures: Vec<String>,
    /// Who the token names (1–128 characters, no control, invisible or bidirectional
    /// character, no surrounding whitespace).
    #[arg(long, default_value = "dev-user")]
    subject: String,
    /// Lifetime in hours, 1 to 12: the services refuse a token living longer than
    /// their `auth.max_token_lifetime_minutes` (12 h by default).
    #[arg(long, default_value_t = 8)]
    hours: i64,
    /// The local stack's signing key.
    #[arg(
        long,
        env = "CEP_DEV_JWT_SECRET_FILE",
        default_value = ".local/secrets/jwt_secret"
    )]
    secret_file: PathBuf,
    /// The service(s) the token opens (its `aud`); none: every service of the local
    /// stack.
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// "local" or "production"; the local stack writes it to .local/stack.env.
    #[arg(long, env = "CEP_ENVIRONMENT", default_value = "local")]
    environment: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.environment != "local" {
        bail!(
            "dev tokens are refused: the stack runs in {} mode",
            args.environment
        );
    }
    for lot in &args.lots {
        cep_domain::Lot::new(i64::from(*lot)).context("--lot")?;
    }
    for structure in &args.structures {
        if !cep_kit::settings::is_structure_id(structure) {
            bail!("--structure: a structure id is 1 to 64 characters among a-z, 0-9, '-' and '_'");
        }
    }
    cep_kit::auth::check_subject(&args.subject).context("--subject")?;
    if !(1..=MAX_HOURS).contains(&args.hours) {
        bail!(
            "--hours must be between 1 and {MAX_HOURS}: the services refuse a longer-lived token"
        );
    }
    let secret = std::fs::read(&args.secret_file).with_context(|| {
        format!(
            "reading the local stack's signing key {} (run `make up` first)",
            args.secret_file.display()
        )
    })?;
    let secret = String::from_utf8_lossy(&secret).trim().to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    let now = i64::try_from(now).context("system clock")?;
    let aud = if args.audiences.is_empty() {
        LOCAL_SERVICES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.audiences
    };
    let claims = Claims {
        sub: args.subject,
        roles: args.roles,
        lots: args.lots,
        structures: args.structures,
        iss: DEV_ISSUER.to_owned(),
        aud,
        iat: now,
        exp: now + args.hours * 3600,
        nbf: None,
    };
    let token = cep_kit::auth::mint(secret.as_bytes(), &claims)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}
