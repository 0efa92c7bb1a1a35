//! `journeys migrate` after the migrations: the free texts an earlier release wrote in
//! clear (a UO2.2's written-trace reference and description, the reasons of referent
//! changes) sealed with each person's data key, their clear columns emptied; those of
//! a person already erased are dropped. Idempotent, in batches.

use cep_kit::sealing;
use cep_runtime::personal::People;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const BATCH: i64 = 500;

async fn key_of(
    people: &People,
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
) -> anyhow::Result<Option<cep_kit::sealing::DataKey>> {
    if people.is_erased(conn, owner).await? {
        return Ok(None);
    }
    Ok(Some(
        people
            .key(conn, owner)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

fn seal(
    key: &Option<cep_kit::sealing::DataKey>,
    owner: Uuid,
    text: Option<String>,
) -> anyhow::Result<Option<Vec<u8>>> {
    match (key, text) {
        (Some(k), Some(t)) => Ok(Some(sealing::seal(k, owner, t.as_bytes())?)),
        _ => Ok(None),
    }
}

/// Seals every clear text left; returns how many rows were changed.
pub async fn seal_clear_texts(pool: &PgPool, people: &People) -> anyhow::Result<u64> {
    let mut changed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, beneficiary_id, written_trace_reference, description FROM units \
             WHERE written_trace_reference IS NOT NULL OR description IS NOT NULL \
             LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let (id, owner): (Uuid, Uuid) = (r.get("id"), r.get("beneficiary_id"));
            let key = key_of(people, &mut tx, owner).await?;
            sqlx::query(
                "UPDATE units SET written_trace_sealed = COALESCE($2, written_trace_sealed), \
                 description_sealed = COALESCE($3, description_sealed), \
                 written_trace_reference = NULL, description = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(seal(&key, owner, r.get("written_trace_reference"))?)
            .bind(seal(&key, owner, r.get("description"))?)
            .execute(&mut *tx)
            .await?;
        }
        changed += rows.len() as u64;
        tx.commit().await?;
    }
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT r.ctid::text AS row, u.beneficiary_id, r.reason FROM referent_changes r \
             JOIN units u ON u.id = r.uo_id WHERE r.reason IS NOT NULL LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let owner: Uuid = r.get("beneficiary_id");
            let key = key_of(people, &mut tx, owner).await?;
            sqlx::query("UPDATE referent_changes SET reason_sealed = $2, reason = NULL WHERE ctid = $1::tid")
                .bind(r.get::<String, _>("row"))
                .bind(seal(&key, owner, r.get("reason"))?)
                .execute(&mut *tx)
                .await?;
        }
        changed += rows.len() as u64;
        tx.commit().await?;
    }
    Ok(changed)
}
