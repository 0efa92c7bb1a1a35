//! The template of a new service: one contract (`cep.skeleton.v1.NoteService`), one
//! table, one event, and the platform for the rest (settings, health, reflection,
//! tokens, metrics, migrations, outbox and relay, shutdown). Copy it, rename it.

use cep_bus::{OutboxMessage, StreamSpec, Subject};
use cep_domain::{Lot, SharedClock};
use cep_kit::auth::{Caller, Role};
use cep_kit::settings::NatsSettings;
use cep_proto::skeleton as pb;
use cep_runtime::request::parse_id;
use cep_runtime::{ApiError, Context, Grpc, NoCommand, NoSection, handle};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
pub const NOTE_ADDED: Subject<pb::NoteAdded> = Subject::new("cep.skeleton.note_added");
const WRITERS: &[Role] = &[Role::Counsellor, Role::Manager];

#[derive(Debug, Clone)]
pub struct Skeleton {
    pool: PgPool,
    clock: SharedClock,
}

impl cep_runtime::Service for Skeleton {
    const NAME: &'static str = "skeleton";
    const DEFAULTS: &'static str = include_str!("../defaults.toml");
    type Settings = NoSection;
    type Command = NoCommand;

    fn migrations() -> &'static Migrator {
        &MIGRATOR
    }

    fn streams(nats: &NatsSettings) -> Vec<StreamSpec> {
        vec![
            StreamSpec::new("SKELETON", ["cep.skeleton.>"], nats.stream_replicas)
                .with_max_age(nats.stream_max_age()),
        ]
    }

    fn build(ctx: &Context<'_, NoSection>) -> anyhow::Result<Self> {
        let (pool, clock) = (ctx.pool.clone(), ctx.clock.clone());
        Ok(Self { pool, clock })
    }

    fn grpc(&self, grpc: &mut Grpc) {
        grpc.add(pb::note_service_server::NoteServiceServer::new(
            self.clone(),
        ));
    }
}

fn reply(id: Uuid, lot: Lot, text: String, at: DateTime<Utc>) -> pb::Note {
    let (lot, created_at) = (i64::from(lot.number()), at.to_rfc3339());
    pb::Note {
        note_id: id.to_string(),
        lot,
        text,
        created_at,
    }
}

impl Skeleton {
    async fn add(&self, caller: Caller, r: pb::AddNoteRequest) -> Result<pb::Note, ApiError> {
        caller.require_any_role(WRITERS)?;
        let lot = Lot::new(r.lot).map_err(|e| ApiError::invalid("lot", e.to_string()))?;
        let text = r.text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 500 || text.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "text",
                "1 to 500 characters, no control characters",
            ));
        }
        caller.check_lot(lot)?;
        let (id, at) = (Uuid::now_v7(), self.clock.now());
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO notes (id, lot, text, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(i16::from(lot.number()))
            .bind(&text)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let event = pb::NoteAdded {
            note_id: id.to_string(),
            lot: r.lot,
            created_at: at.to_rfc3339(),
        };
        let message = OutboxMessage::event(NOTE_ADDED, &event, at).with_lot(lot.number());
        cep_bus::enqueue(&mut tx, message.with_key(id.to_string())).await?;
        tx.commit().await?;
        Ok(reply(id, lot, text, at))
    }

    async fn get(&self, caller: Caller, r: pb::GetNoteRequest) -> Result<pb::Note, ApiError> {
        let id = parse_id("note_id", &r.note_id)?;
        let row: Option<(i16, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT lot, text, created_at FROM notes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let not_found = || ApiError::NotFound(format!("note {id}"));
        let (lot, text, at) = row.ok_or_else(not_found)?;
        let lot = Lot::new(i64::from(lot)).map_err(ApiError::internal)?;
        caller.check_lot(lot).map_err(|_| not_found())?;
        Ok(reply(id, lot, text, at))
    }
}

#[tonic::async_trait]
impl pb::note_service_server::NoteService for Skeleton {
    async fn add_note(&self, r: Request<pb::AddNoteRequest>) -> Result<Response<pb::Note>, Status> {
        handle(r, |caller, r| self.add(caller, r)).await
    }

    async fn get_note(&self, r: Request<pb::GetNoteRequest>) -> Result<Response<pb::Note>, Status> {
        handle(r, |caller, r| self.get(caller, r)).await
    }
}
