//! The claims service (CCTP 3.7): a person's claims to the operator, their 7- and
//! 45-day deadlines watched and every breach alerted once, the France compétences
//! mediator's referrals and outcomes, indicator 8.7, and the letters.
//!
//! - [`settings`]; [`model`]; [`usecases`] and [`authz`]; [`letters`];
//! - [`sweep`]: the breaches alerted; [`store`]: the SQL; [`events`]: the facts;
//! - [`grpc`]: the contract's adapter.
//!
//! The deadlines themselves are `cep_domain::claim`'s.

pub mod authz;
pub mod events;
pub mod grpc;
pub mod letters;
pub mod model;
pub mod settings;
pub mod store;
pub mod sweep;
pub mod usecases;

use std::sync::Arc;

use anyhow::Context as _;
use cep_kit::settings::NatsSettings;
use cep_proto::claims::claim_service_server::ClaimServiceServer;
use cep_runtime::{Consumers, Context, Grpc, NoCommand, Tasks};
use sqlx::migrate::Migrator;

use crate::settings::ClaimSettings;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug)]
pub struct Claims {
    pub cases: usecases::Cases,
    interval: std::time::Duration,
}

pub type Application = cep_runtime::Application<Claims>;

impl cep_runtime::Service for Claims {
    const NAME: &'static str = settings::SERVICE;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Settings = ClaimSettings;
    type Command = NoCommand;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    fn streams(nats: &NatsSettings) -> Vec<cep_bus::StreamSpec> {
        vec![events::stream(nats)]
    }

    fn build(ctx: &Context<'_, ClaimSettings>) -> anyhow::Result<Self> {
        let own = &ctx.settings.own;
        Ok(Self {
            cases: usecases::Cases {
                pool: ctx.pool.clone(),
                clock: ctx.clock.clone(),
                refusals: cep_runtime::access_log::Refusals::new(&ctx.pool),
                tables: Arc::new(own.reference.tables()?),
                people: cep_runtime::personal::People::new(own.personal.keys()?),
                at_risk_days: own.deadlines.at_risk_days,
                letterhead: Arc::new(own.letterhead.clone()),
                beneficiaries: own
                    .beneficiaries
                    .channel()
                    .context("beneficiaries.endpoint")?,
            },
            interval: std::time::Duration::from_secs(own.deadlines.sweep_interval_seconds),
        })
    }

    fn grpc(&self, grpc: &mut Grpc) {
        grpc.add(ClaimServiceServer::new(grpc::ClaimGrpc {
            cases: self.cases.clone(),
        }));
    }

    fn consumers(&self, consumers: &mut Consumers) {
        consumers.add(
            cep_runtime::personal::erasures(settings::SERVICE),
            cep_runtime::personal::Erasures::new(self.cases.clock.clone()),
        );
    }

    fn tasks(&self, tasks: &mut Tasks) {
        let (cases, interval) = (self.cases.clone(), self.interval);
        tasks.add("deadline sweep", move |stop| {
            sweep::run(cases, interval, stop)
        });
    }
}
