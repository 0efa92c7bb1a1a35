//! What a deliverable's document says: the template's sections in order with the
//! counsellor's text, the unit's references, the complementary service with the
//! directory's whole list, and the two signature blocks.

use cep_proto::beneficiaries::Beneficiary;
use cep_render::{Document, Section, SignatureBlock, mention::french_date};
use chrono::NaiveDate;

use crate::model::{Deliverable, Kind};
use crate::templates::Template;

pub fn of(
    d: &Deliverable,
    template: &Template,
    person: &Beneficiary,
    today: NaiveDate,
) -> Document {
    let name = cep_runtime::personal::display_name(person);
    let mut references = vec![
        format!("Dossier n° {}", d.unit.dossier_number),
        format!(
            "Unité d'œuvre {} engagée le {}",
            d.unit.uo,
            french_date(d.unit.engagement_date)
        ),
        format!("Bénéficiaire : {name}"),
    ];
    if !d.unit.referent.is_empty() {
        references.push(format!("Conseiller référent : {}", d.unit.referent));
    }
    let mut sections: Vec<Section> = template
        .sections
        .iter()
        .filter_map(|s| {
            d.sections.get(&s.key).map(|text| Section {
                heading: s.heading.clone(),
                paragraphs: cep_render::paragraphs(text),
            })
        })
        .collect();
    if d.kind == Kind::ProjetProfessionnel {
        if let Some(c) = &d.complementary {
            let mut list = vec![format!(
                "La personne souhaite une prestation complémentaire ({}). Voici la liste de \
                 l'ensemble des organismes du territoire qui la proposent (annuaire, version {}) ; \
                 la personne choisit librement :",
                c.kind, c.directory_version
            )];
            list.extend(
                c.providers
                    .iter()
                    .map(|p| format!("– {} ({}), réf. {}", p.name, p.city, p.id)),
            );
            sections.push(Section {
                heading: "Prestation complémentaire".into(),
                paragraphs: list,
            });
        }
        sections.push(Section {
            heading: "Suite de l'accompagnement".into(),
            paragraphs: vec![if d.wants_uo2_2 {
                "La personne souhaite poursuivre par la mise en œuvre de son projet (UO2.2).".into()
            } else {
                "La personne ne souhaite pas, à ce jour, poursuivre par la mise en œuvre de son projet (UO2.2).".into()
            }],
        });
    }
    Document {
        title: template.title.clone(),
        references,
        recipient: vec![],
        sections,
        signatures: vec![
            SignatureBlock {
                field: "counsellor".into(),
                label: "Le conseiller".into(),
                mention: "Lu et approuvé".into(),
            },
            SignatureBlock {
                field: "beneficiary".into(),
                label: format!("Le bénéficiaire : {name}"),
                mention: "Mention « lu et approuvé » et signature".into(),
            },
        ],
        issued_on: today,
    }
}
