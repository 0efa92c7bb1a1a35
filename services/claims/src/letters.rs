//! The acknowledgement and answer letters (CCTP 3.7), rendered by `cep-render` as
//! PDF/A-2b, which prints the mediator mention on every page; the letters also say
//! it in their body, where the person reads what to do next. Addressed by post (the
//! person's postal address) or email, as the person chose.

use cep_proto::beneficiaries::Beneficiary;
use cep_render::mention::french_date;
use cep_render::{Document, Section};
use chrono::NaiveDate;

use crate::model::Claim;

/// The recipient block: the name, then the postal address or the email address.
pub fn recipient(p: &Beneficiary, reply_by: &str) -> Vec<String> {
    let mut lines = vec![cep_runtime::personal::display_name(p)];
    if reply_by == "EMAIL" {
        lines.push(format!("Par courriel : {}", p.email));
        return lines;
    }
    if let Some(a) = &p.profile {
        let street = [
            &a.address_street_number,
            &a.address_street_type,
            &a.address_street_name,
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
        if !street.is_empty() {
            lines.push(street);
        }
        let city = format!("{} {}", a.address_postal_code, a.address_city)
            .trim()
            .to_owned();
        if !city.is_empty() {
            lines.push(city);
        }
    }
    lines
}

const MEDIATOR_BODY: &str = "Si la réponse apportée à votre réclamation ne vous donne pas \
satisfaction, vous pouvez saisir le médiateur de France compétences, tiers indépendant, neutre \
et impartial, par courrier ou par le formulaire en ligne du site de France compétences.";

pub fn acknowledgement(c: &Claim) -> Vec<Section> {
    vec![Section {
        heading: "Accusé de réception de votre réclamation".into(),
        paragraphs: vec![
            format!(
                "Nous avons bien reçu votre réclamation le {}. Elle est enregistrée et sera \
                 traitée avec attention.",
                french_date(c.received_date)
            ),
            format!(
                "Nous vous adresserons notre réponse au plus tard le {}.",
                french_date(c.answer_due)
            ),
            MEDIATOR_BODY.into(),
        ],
    }]
}

pub fn answer(c: &Claim, summary: &str) -> Vec<Section> {
    let mut paragraphs = vec![format!(
        "Vous nous avez adressé une réclamation, reçue le {}. Voici notre réponse.",
        french_date(c.received_date)
    )];
    paragraphs.extend(cep_render::paragraphs(summary));
    paragraphs.push(MEDIATOR_BODY.into());
    vec![Section {
        heading: "Réponse à votre réclamation".into(),
        paragraphs,
    }]
}

pub fn document(
    c: &Claim,
    recipient: Vec<String>,
    sections: Vec<Section>,
    date: NaiveDate,
) -> Document {
    Document {
        title: "Votre réclamation".into(),
        references: vec![format!("Référence : {}", c.id)],
        recipient,
        sections,
        signatures: vec![],
        issued_on: date,
    }
}
