//! `skeleton serve | migrate | check-config | outbox replay`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cep_runtime::main::<skeleton::Skeleton>().await
}
