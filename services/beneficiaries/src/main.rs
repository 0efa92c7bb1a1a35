//! `beneficiaries serve | migrate | check-config`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cep_runtime::main::<beneficiaries::Beneficiaries>().await
}
