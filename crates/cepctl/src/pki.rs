//! `cepctl pki init`: the local stack's test certificate authority, which the
//! deliverables service issues each signer's certificate from. Production points the
//! service at the operator's own authority (settings `signing.*`).

use std::path::PathBuf;

use anyhow::Context;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Creates DIR/ca.pem and DIR/ca.key (PKCS#8, mode 0600) unless they exist.
    Init {
        #[arg(long, default_value = ".local/pki")]
        dir: PathBuf,
        /// The organisation the certificates name.
        #[arg(long, default_value = "Opérateur CEP (local)")]
        organisation: String,
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::Init {
        dir,
        organisation,
        days,
    } = cmd;
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
    if cert_path.exists() && key_path.exists() {
        println!("{} exists: kept", cert_path.display());
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (key, cert) = cep_pades::pki::new_ca(
        &format!("{organisation} — autorité de test"),
        &organisation,
        days,
    )?;
    std::fs::write(&key_path, cep_pades::pki::key_to_pem(&key)?.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::write(&cert_path, cep_pades::pki::cert_to_pem(&cert)?)?;
    println!("{} and {} created", cert_path.display(), key_path.display());
    Ok(())
}
