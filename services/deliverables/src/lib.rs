//! The deliverables service: the État des lieux partagé (UO1) and the Projet
//! professionnel (UO2.1) from draft to the two signatures, the paper path, and the
//! written trace that closes a UO2.2.
//!
//! - [`settings`]; [`templates`] (FC's trames) and [`providers`] (the directory);
//! - [`model`]; [`usecases`] and [`authz`]: what each call does and who may call it;
//! - [`document`]: what the PDF says (rendered by `cep-render`); [`signing`]: the
//!   operator's certificates and PAdES signatures (`cep-pades`); [`codes`] and
//!   [`mail`]: the beneficiary's one-time code;
//! - [`blobs`]: the documents, content-addressed; [`store`]: the SQL;
//! - [`units`]: journeys' facts, applied; [`events`]: the facts published;
//! - [`grpc`]: the contract's adapter.

pub mod authz;
pub mod blobs;
pub mod codes;
pub mod document;
pub mod events;
pub mod grpc;
pub mod mail;
pub mod model;
pub mod providers;
pub mod settings;
pub mod signing;
pub mod store;
pub mod templates;
pub mod units;
pub mod usecases;

use std::sync::Arc;

use anyhow::Context as _;
use cep_kit::settings::NatsSettings;
use cep_proto::deliverables::deliverable_service_server::DeliverableServiceServer;
use cep_runtime::{Consumers, Context, Grpc, NoCommand};
use sqlx::migrate::Migrator;

use crate::settings::DeliverableSettings;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug)]
pub struct Deliverables {
    pub cases: usecases::Cases,
}

pub type Application = cep_runtime::Application<Deliverables>;

impl cep_runtime::Service for Deliverables {
    const NAME: &'static str = settings::SERVICE;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Settings = DeliverableSettings;
    type Command = NoCommand;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    fn streams(nats: &NatsSettings) -> Vec<cep_bus::StreamSpec> {
        vec![events::stream(nats)]
    }

    fn build(ctx: &Context<'_, DeliverableSettings>) -> anyhow::Result<Self> {
        let own = &ctx.settings.own;
        let key = own.code.keyring()?.current.1;
        let email = Arc::new(mail::Email::from_settings(&own.mail).context("mail")?);
        Ok(Self {
            cases: usecases::Cases {
                pool: ctx.pool.clone(),
                clock: ctx.clock.clone(),
                refusals: cep_runtime::access_log::Refusals::new(&ctx.pool),
                templates: Arc::new(templates::Templates::load(&own.templates)?),
                directory: Arc::new(providers::Directory::load(&own.providers)?),
                blobs: blobs::Blobs::folder(&own.blobs.root).context("blobs.root")?,
                authority: Arc::new(signing::Authority::from_settings(
                    &own.signing,
                    &own.letterhead.operator_name,
                )?),
                email: email.clone(),
                copies: email,
                code: usecases::CodeRules {
                    lifetime_minutes: own.code.lifetime_minutes,
                    max_attempts: own.code.max_attempts,
                    key,
                },
                letterhead: Arc::new(own.letterhead.clone()),
                journeys: own.journeys.channel().context("journeys.endpoint")?,
                beneficiaries: own
                    .beneficiaries
                    .channel()
                    .context("beneficiaries.endpoint")?,
                people: cep_runtime::personal::People::new(own.personal.keys()?),
            },
        })
    }

    fn grpc(&self, grpc: &mut Grpc) {
        grpc.add(DeliverableServiceServer::new(grpc::DeliverableGrpc {
            cases: self.cases.clone(),
        }));
    }

    fn consumers(&self, consumers: &mut Consumers) {
        consumers.add(units::spec(), units::UnitFacts);
        consumers.add(
            cep_runtime::personal::erasures(settings::SERVICE),
            cep_runtime::personal::Erasures::new(self.cases.clock.clone()),
        );
    }
}
