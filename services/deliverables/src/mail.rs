//! How the beneficiary's one-time code leaves: by email through lettre (SMTP with
//! STARTTLS in production; a file transport writing `.eml` files for the local
//! stack). Another channel (SMS) is another [`CodeTransport`].

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::settings::{MailSettings, MailTransport};

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the address on file is not a valid email address")]
    Address,
    #[error("the message could not be sent: {0}")]
    Transport(String),
    #[error("no transport is configured for channel {0}")]
    NoChannel(&'static str),
}

/// What a code message says; the code itself only in the body.
#[derive(Debug)]
pub struct CodeMessage<'a> {
    pub to: &'a str,
    pub code: &'a str,
    pub dossier_number: &'a str,
    pub document: &'a str,
    pub minutes: u32,
}

/// A channel the codes go through.
pub trait CodeTransport: Send + Sync + std::fmt::Debug {
    fn channel(&self) -> &'static str;
    fn send<'a>(
        &'a self,
        message: CodeMessage<'a>,
    ) -> futures::future::BoxFuture<'a, Result<(), SendError>>;
}

enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Email, through SMTP (STARTTLS) or into a folder.
pub struct Email {
    from: Mailbox,
    sender: Sender,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").finish_non_exhaustive()
    }
}

impl Email {
    pub fn from_settings(s: &MailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = s.from.parse()?;
        let sender = match s.transport {
            MailTransport::File => {
                std::fs::create_dir_all(&s.directory)?;
                Sender::File(AsyncFileTransport::new(&s.directory))
            }
            MailTransport::Smtp => {
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.smtp_host)?
                    .port(s.smtp_port);
                if !s.smtp_username.is_empty() {
                    b = b.credentials(Credentials::new(
                        s.smtp_username.clone(),
                        s.smtp_password.expose_secret().to_owned(),
                    ));
                }
                Sender::Smtp(b.build())
            }
        };
        Ok(Self { from, sender })
    }
}

impl CodeTransport for Email {
    fn channel(&self) -> &'static str {
        "EMAIL"
    }

    fn send<'a>(
        &'a self,
        m: CodeMessage<'a>,
    ) -> futures::future::BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let to: Mailbox = m.to.parse().map_err(|_| SendError::Address)?;
            let body = format!(
                "Bonjour,\n\nVoici votre code de signature du document « {} » (dossier {}) : {}\n\n\
                 Il est valable {} minutes. Ne le communiquez à personne : votre conseiller ne \
                 vous le demandera jamais.\n\nSi la réponse apportée à une réclamation ne vous \
                 satisfait pas, vous pouvez saisir le médiateur de France compétences.\n",
                m.document, m.dossier_number, m.code, m.minutes
            );
            let email = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject("Votre code de signature")
                .body(body)
                .map_err(|e| SendError::Transport(e.to_string()))?;
            self.deliver(email).await
        })
    }
}

/// The signed copy the person receives at once (CCTP 2.1.2: "un exemplaire … est
/// remis au bénéficiaire immédiatement").
#[derive(Debug)]
pub struct CopyMessage<'a> {
    pub to: &'a str,
    pub dossier_number: &'a str,
    pub document: &'a str,
    pub file_name: &'a str,
    pub pdf: Vec<u8>,
}

impl Email {
    async fn deliver(&self, email: Message) -> Result<(), SendError> {
        let sent = match &self.sender {
            Sender::Smtp(t) => t.send(email).await.map(|_| ()).map_err(|e| e.to_string()),
            Sender::File(t) => t.send(email).await.map(|_| ()).map_err(|e| e.to_string()),
        };
        sent.map_err(SendError::Transport)
    }

    /// Sends the signed document to the person, attached.
    pub async fn send_copy(&self, m: CopyMessage<'_>) -> Result<(), SendError> {
        use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
        let to: Mailbox = m.to.parse().map_err(|_| SendError::Address)?;
        let text = format!(
            "Bonjour,\n\nVous trouverez ci-joint votre exemplaire signé du document « {} » \
             (dossier {}). Ses deux signatures électroniques se vérifient avec tout lecteur PDF \
             qui contrôle les signatures.\n\nSi la réponse apportée à une réclamation ne vous \
             satisfait pas, vous pouvez saisir le médiateur de France compétences.\n",
            m.document, m.dossier_number
        );
        let pdf = ContentType::parse("application/pdf")
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("Votre exemplaire signé : {}", m.document))
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(Attachment::new(m.file_name.to_owned()).body(m.pdf, pdf)),
            )
            .map_err(|e| SendError::Transport(e.to_string()))?;
        self.deliver(email).await
    }
}

/// "zoe.lefevre@example.org" → "z***@example.org".
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
