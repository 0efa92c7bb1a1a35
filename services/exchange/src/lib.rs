//! The exchange service (CCTP 3.2, 4.3, annexes 2 and 3): what France compétences sees
//! of the operator. A reporting read model fed only by the other services' facts, the
//! annex-2 daily files, their FTPS delivery, the monthly indicators and the API
//! channel.
//!
//! - [`facts`]: the read model applied from the facts (live consumers and replay);
//!   [`records`]: the daily records and the columns of each family;
//! - [`daily`] and [`files`]: the daily files (CSV, XML, deliverables, manifest);
//!   [`delivery`]: their upload, journal and catch-up;
//! - [`indicators`]: each indicator's definition and computation, [`imports`]: FC's
//!   own measures from CSV, [`report`]: the managers' report; [`rebuild`]: the replay
//!   of every stream;
//! - [`settings`]; [`usecases`]; [`store`]: the SQL; [`grpc`]: the contract's adapter.

pub mod daily;
pub mod delivery;
pub mod facts;
pub mod files;
pub mod grpc;
pub mod imports;
pub mod indicators;
pub mod quarterly;
pub mod rebuild;
pub mod records;
pub mod report;
pub mod settings;
pub mod store;
pub mod usecases;

use std::sync::Arc;

use anyhow::Context as _;
use cep_kit::settings::NatsSettings;
use cep_proto::exchange::exchange_service_server::ExchangeServiceServer;
use cep_runtime::{Consumers, Context, Grpc, NoCommand};
use sqlx::migrate::Migrator;

use crate::settings::ExchangeSettings;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug)]
pub struct Exchange {
    pub cases: usecases::Cases,
}

pub type Application = cep_runtime::Application<Exchange>;

impl cep_runtime::Service for Exchange {
    const NAME: &'static str = settings::SERVICE;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Settings = ExchangeSettings;
    type Command = NoCommand;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    fn streams(nats: &NatsSettings) -> Vec<cep_bus::StreamSpec> {
        vec![
            cep_bus::StreamSpec::new("EXCHANGE", ["cep.exchange.>"], nats.stream_replicas)
                .with_max_age(nats.stream_max_age()),
        ]
    }

    fn build(ctx: &Context<'_, ExchangeSettings>) -> anyhow::Result<Self> {
        let own = &ctx.settings.own;
        Ok(Self {
            cases: usecases::Cases {
                pool: ctx.pool.clone(),
                clock: ctx.clock.clone(),
                tables: Arc::new(own.reference.tables()?),
                export: Arc::new(own.export.clone()),
                delivery: Arc::new(own.delivery.clone()),
                peers: daily::Peers {
                    beneficiaries: own
                        .beneficiaries
                        .channel()
                        .context("beneficiaries.endpoint")?,
                    deliverables: own
                        .deliverables
                        .channel()
                        .context("deliverables.endpoint")?,
                },
                bus: ctx.bus.clone(),
                ftps: own.ftps.clone().map(Arc::new),
            },
        })
    }

    fn grpc(&self, grpc: &mut Grpc) {
        grpc.add(ExchangeServiceServer::new(grpc::ExchangeGrpc {
            cases: self.cases.clone(),
        }));
    }

    fn consumers(&self, consumers: &mut Consumers) {
        for spec in facts::specs() {
            consumers.add(spec, facts::Facts);
        }
    }
}
