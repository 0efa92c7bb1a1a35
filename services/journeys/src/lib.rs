//! The journeys service: the units of work delivered to people (UO0 to UO2.2) from
//! the aiguillage to their closure, their dossier numbers and deadlines, the purchase
//! orders they consume, and the automatic closure of abandoned units.
//!
//! - [`settings`]: what the service adds to the platform's settings;
//! - [`model`]: units, interactions, purchase orders, people as known here;
//! - [`usecases`] and [`authz`]: what each call does and who may call it;
//! - [`sweep`]: the abandonment at the deadline; [`people`]: the beneficiaries
//!   service's facts, applied; [`signatures`]: the closure by a signed deliverable;
//! - [`store`]: the SQL; [`events`]: the facts published through the outbox;
//! - [`grpc`]: the contract's adapter;
//! - [`Journeys`]: the service as the platform's runtime (`cep-runtime`) runs it.

pub mod authz;
pub mod events;
pub mod grpc;
pub mod model;
pub mod people;
pub mod settings;
pub mod signatures;
pub mod store;
pub mod sweep;
pub mod upgrade;
pub mod usecases;

use std::sync::Arc;

use anyhow::Context as _;

use cep_kit::settings::NatsSettings;
use cep_proto::journeys::journey_service_server::JourneyServiceServer;
use cep_proto::journeys::purchase_order_service_server::PurchaseOrderServiceServer;
use cep_runtime::{Consumers, Context, Grpc, NoCommand, Tasks};
use sqlx::migrate::Migrator;

use crate::settings::JourneySettings;

/// The service's own migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service, as the runtime runs it.
#[derive(Debug)]
pub struct Journeys {
    pub cases: usecases::Cases,
}

/// The service's application, as tests and benchmarks build it.
pub type Application = cep_runtime::Application<Journeys>;

impl cep_runtime::Service for Journeys {
    const NAME: &'static str = settings::SERVICE;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Settings = JourneySettings;
    type Command = NoCommand;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    async fn upgrade(ctx: &Context<'_, JourneySettings>) -> anyhow::Result<()> {
        let people = cep_runtime::personal::People::new(ctx.settings.own.personal.keys()?);
        let sealed = upgrade::seal_clear_texts(&ctx.pool, &people).await?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "free texts written in clear by an earlier release sealed"
            );
        }
        Ok(())
    }

    fn streams(nats: &NatsSettings) -> Vec<cep_bus::StreamSpec> {
        vec![events::stream(nats)]
    }

    fn build(ctx: &Context<'_, JourneySettings>) -> anyhow::Result<Self> {
        let own = &ctx.settings.own;
        Ok(Self {
            cases: usecases::Cases {
                pool: ctx.pool.clone(),
                clock: ctx.clock.clone(),
                tables: Arc::new(own.reference.tables()?),
                operator: ctx.settings.common.operator.clone(),
                abandonment: own.abandonment,
                nir_policy: own.nir.policy,
                statements: own.statements.clone(),
                billing: own.billing,
                people: cep_runtime::personal::People::new(own.personal.keys()?),
                beneficiaries: own
                    .beneficiaries
                    .channel()
                    .context("beneficiaries.endpoint")?,
            },
        })
    }

    fn grpc(&self, grpc: &mut Grpc) {
        let adapter = grpc::JourneyGrpc {
            cases: self.cases.clone(),
        };
        grpc.add(PurchaseOrderServiceServer::new(adapter.clone()));
        grpc.add(JourneyServiceServer::new(adapter));
    }

    fn consumers(&self, consumers: &mut Consumers) {
        consumers.add(people::spec(), people::PeopleFacts);
        consumers.add(signatures::traces_spec(), signatures::Traces);
        consumers.add(
            signatures::spec(),
            signatures::Signatures {
                clock: self.cases.clock.clone(),
            },
        );
    }

    fn tasks(&self, tasks: &mut Tasks) {
        let cases = self.cases.clone();
        tasks.add("abandonment sweep", move |stop| sweep::run(cases, stop));
    }
}
