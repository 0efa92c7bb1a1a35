//! The beneficiaries service: the people counselled (identity, encrypted NIR,
//! contact, employment profile), their eligibility to each unit of work and the
//! lot that serves them.
//!
//! - [`settings`]: what the service adds to the platform's settings;
//! - [`model`], [`validate`], [`edit`], [`annex2`]: the record and the rules on its fields;
//! - [`vault`]: the NIR's encryption and blind index; [`rotation`]: its key rotation;
//! - [`usecases`] and [`authz`]: what each call does and who may call it;
//! - [`record`]: the record at rest (personal fields sealed, blind indexes);
//!   [`upgrade`]: records of earlier releases sealed;
//! - [`store`]: the SQL; [`events`]: the facts published through the outbox;
//! - [`journeys`]: the journeys service's facts (NIR timing, journeys under way);
//! - [`grpc`]: the contract's adapter;
//! - [`Beneficiaries`]: the service as the platform's runtime (`cep-runtime`) runs it.

pub mod annex2;
pub mod authz;
pub mod edit;
pub mod events;
pub mod grpc;
pub mod journeys;
pub mod model;
pub mod record;
pub mod rotation;
pub mod settings;
pub mod store;
pub mod upgrade;
pub mod usecases;
pub mod validate;
pub mod vault;

use std::sync::Arc;

use cep_kit::settings::NatsSettings;
use cep_proto::beneficiaries::beneficiary_service_server::BeneficiaryServiceServer;
use cep_runtime::{Consumers, Context, Grpc};
use sqlx::migrate::Migrator;

use crate::settings::BeneficiarySettings;

/// The service's own migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service, as the runtime runs it.
#[derive(Debug)]
pub struct Beneficiaries {
    pub cases: usecases::Cases,
}

/// The service's application, as tests and benchmarks build it.
pub type Application = cep_runtime::Application<Beneficiaries>;

impl cep_runtime::Service for Beneficiaries {
    const NAME: &'static str = settings::SERVICE;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Settings = BeneficiarySettings;
    type Command = rotation::Command;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    fn streams(nats: &NatsSettings) -> Vec<cep_bus::StreamSpec> {
        vec![events::stream(nats)]
    }

    fn build(ctx: &Context<'_, BeneficiarySettings>) -> anyhow::Result<Self> {
        let own = &ctx.settings.own;
        let operator = &ctx.settings.common.operator;
        Ok(Self {
            cases: usecases::Cases {
                pool: ctx.pool.clone(),
                refusals: cep_runtime::access_log::Refusals::new(&ctx.pool),
                vault: vault::Vault::new(own.vault_keys()?),
                tables: Arc::new(own.reference_tables()?),
                clock: ctx.clock.clone(),
                operator: operator.clone(),
                structures: Arc::new(operator.structures()?),
                ages: validate::AgeBounds {
                    min_years: own.age.min_years,
                    max_years: own.age.max_years,
                },
            },
        })
    }

    async fn command(
        ctx: &Context<'_, BeneficiarySettings>,
        command: Self::Command,
    ) -> anyhow::Result<()> {
        let vault = vault::Vault::new(ctx.settings.own.vault_keys()?);
        #[allow(clippy::print_stdout)]
        match command {
            rotation::Command::Nir(rotation::NirCommand::Keys) => {
                print!("{}", rotation::key_usage(&ctx.pool, &vault).await?);
            }
            rotation::Command::Nir(rotation::NirCommand::Rotate { batch }) => {
                let resealed = rotation::rotate(&ctx.pool, &vault, batch).await?;
                println!(
                    "{resealed} NIR(s) re-sealed under key version {}",
                    vault.current_version()
                );
            }
        }
        Ok(())
    }

    async fn upgrade(ctx: &Context<'_, BeneficiarySettings>) -> anyhow::Result<()> {
        let vault = vault::Vault::new(ctx.settings.own.vault_keys()?);
        upgrade::seal_legacy_records(&ctx.pool, &vault).await?;
        Ok(())
    }

    fn consumers(&self, consumers: &mut Consumers) {
        consumers.add(journeys::spec(), journeys::JourneyFacts);
    }

    fn grpc(&self, grpc: &mut Grpc) {
        grpc.add(BeneficiaryServiceServer::new(grpc::BeneficiaryGrpc {
            cases: self.cases.clone(),
        }));
    }
}
