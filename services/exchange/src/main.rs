//! `exchange serve | migrate | check-config | outbox …`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cep_runtime::main::<exchange::Exchange>().await
}
