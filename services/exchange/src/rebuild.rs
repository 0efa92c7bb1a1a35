//! The read model rebuilt from scratch: every stream read again from its first
//! message (`$JS.API.STREAM.MSG.GET`, message by message, in stream order) and each
//! fact applied as the live consumers apply it ([`crate::facts::apply`]).
//!
//! The whole rebuild is one transaction: the read model is emptied (`TRUNCATE`) and
//! filled again, so readers and the live consumers wait for it and then see the new
//! model whole, never a half-built one; a failure leaves the old model as it was.
//! A stream keeps its messages `nats.stream_max_age_days`: a rebuild recovers what the
//! streams still hold.

use async_nats::jetstream;
use cep_bus::HandlerError;
use tokio::sync::mpsc;

use crate::facts::{self, Fact};
use crate::store;

/// How often progress is told, in messages.
const PROGRESS_EVERY: u64 = 500;

/// Where a rebuild stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub stream: String,
    pub applied: u64,
    pub total: u64,
    pub done: bool,
}

/// Why a rebuild stopped (the old read model is kept).
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("message {sequence} of stream {stream} could not be applied: {message}")]
    Apply {
        stream: String,
        sequence: u64,
        message: String,
    },
}

/// The first and last sequence of `name`, `None` when the stream does not exist (its
/// service never ran: nothing to replay).
async fn bounds(
    js: &jetstream::Context,
    name: &str,
) -> Result<Option<(jetstream::stream::Stream, u64, u64)>, RebuildError> {
    let stream_error = |e: &dyn std::fmt::Display| RebuildError::Stream {
        stream: name.to_owned(),
        message: e.to_string(),
    };
    let mut stream = match js.get_stream(name).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                jetstream::context::GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(stream_error(&e)),
    };
    let info = stream.info().await.map_err(|e| stream_error(&e))?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    Ok(Some((stream, first, last)))
}

/// Empties the read model and applies every message of every stream again, telling
/// `progress` as it goes. Returns the messages applied and skipped (facts that can
/// never apply, which the live consumer dead-lettered too).
///
/// # Errors
///
/// A stream unreadable, the database, or a fact failing for a reason that may pass
/// (then nothing changed: the transaction is rolled back).
pub async fn run(
    pool: &sqlx::PgPool,
    js: &jetstream::Context,
    progress: &mpsc::Sender<Result<Progress, cep_runtime::ApiError>>,
) -> Result<(u64, u64), RebuildError> {
    let mut tx = pool.begin().await?;
    store::empty_read_model(&mut tx).await?;
    let (mut applied_all, mut skipped) = (0, 0);
    for (name, _) in facts::STREAMS {
        let Some((stream, first, last)) = bounds(js, name).await? else {
            let _ = progress
                .send(Ok(Progress {
                    stream: name.to_owned(),
                    applied: 0,
                    total: 0,
                    done: true,
                }))
                .await;
            continue;
        };
        let total = if last >= first && last > 0 {
            last - first + 1
        } else {
            0
        };
        let mut applied = 0;
        for sequence in first.max(1)..=last {
            let message = match stream.get_raw_message(sequence).await {
                Ok(m) => m,
                Err(e)
                    if matches!(
                        e.kind(),
                        jetstream::stream::RawMessageErrorKind::NoMessageFound
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(RebuildError::Stream {
                        stream: name.to_owned(),
                        message: e.to_string(),
                    });
                }
            };
            let outcome = match Fact::of(Some(&message.headers), &message.payload) {
                Ok(fact) => facts::apply(&mut tx, &fact).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {}
                Err(HandlerError::Permanent(e)) => {
                    tracing::warn!(stream = name, sequence, error = %e, "fact skipped by the rebuild");
                    skipped += 1;
                }
                Err(HandlerError::Transient(e)) => {
                    return Err(RebuildError::Apply {
                        stream: name.to_owned(),
                        sequence,
                        message: e.to_string(),
                    });
                }
            }
            applied += 1;
            if applied % PROGRESS_EVERY == 0 {
                let _ = progress
                    .send(Ok(Progress {
                        stream: name.to_owned(),
                        applied,
                        total,
                        done: false,
                    }))
                    .await;
            }
        }
        applied_all += applied;
        let _ = progress
            .send(Ok(Progress {
                stream: name.to_owned(),
                applied,
                total,
                done: true,
            }))
            .await;
    }
    tx.commit().await?;
    Ok((applied_all, skipped))
}
