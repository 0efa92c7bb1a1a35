//! `cepctl beneficiary …`: the beneficiaries service.

use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;

use crate::call::{self, Target, request};
use crate::failure::Failure;
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Register a person at first contact.
    Register(Box<Register>),
    /// Show one person.
    Get { beneficiary_id: String },
    /// Change fields: `--set phone=0612345678 --set profile.sex=F` ("" clears an optional
    /// field; each field once).
    Update {
        beneficiary_id: String,
        /// The version read (optimistic concurrency).
        #[arg(long)]
        version: i64,
        /// FIELD=VALUE, with the field names of the contract (profile.* for the UO1 profile).
        #[arg(long = "set", required = true)]
        set: Vec<String>,
    },
    /// Search by name prefix, birth date, NIR, structure.
    Search(Search),
    /// Record the NIR, read from standard input (never from the command line, where
    /// shell history and process listings would keep it); shown masked afterwards.
    SetNir {
        beneficiary_id: String,
        /// Record it although another person holds the same NIR (needs --duplicate-reason).
        #[arg(long)]
        allow_duplicate: bool,
        #[arg(long, default_value = "")]
        duplicate_reason: String,
    },
    /// Check eligibility to a UO (UO0, UO1, UO2.1, UO2.2).
    Eligibility {
        beneficiary_id: String,
        #[arg(long)]
        uo: cep_domain::Uo,
    },
    /// List the annex-2 fields still missing for a UO.
    Validate {
        beneficiary_id: String,
        #[arg(long)]
        uo: cep_domain::Uo,
    },
    /// Everything held about the person, as JSON.
    Export { beneficiary_id: String },
    /// Erase the person's data, keeping a tombstone; asks first on a terminal.
    Erase {
        beneficiary_id: String,
        #[arg(long)]
        reason: String,
        /// Do not ask (scripts): without it, the erasure is confirmed on a terminal and
        /// refused when standard input is not one.
        #[arg(long)]
        yes: bool,
    },
    /// Who accessed the person's data, oldest first (auditor, director, si).
    Accesses {
        beneficiary_id: String,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
}

#[derive(clap::Args)]
pub struct Register {
    #[arg(long)]
    lot: i32,
    #[arg(long)]
    structure: String,
    #[arg(long)]
    last_name: String,
    #[arg(long)]
    first_name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    birth_date: String,
    /// Code of the employment_status reference table, e.g. SALARIE_PRIVE.
    #[arg(long)]
    status: String,
    #[arg(long)]
    usual_name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    home_postal_code: Option<String>,
    #[arg(long)]
    work_postal_code: Option<String>,
    #[arg(long)]
    operator_ref: Option<String>,
    #[arg(long)]
    other_cep_operator: Option<String>,
    #[arg(long)]
    lot_exception_justification: Option<String>,
    /// Register even if a probable duplicate exists (needs --duplicate-reason).
    #[arg(long)]
    allow_duplicate: bool,
    #[arg(long, default_value = "")]
    duplicate_reason: String,
}

/// The NIR on the first line of standard input (a prompt goes to standard error when
/// it is a terminal).
fn read_nir() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("NIR: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let nir = line.trim().to_owned();
    if nir.is_empty() {
        return Err(Failure::invalid_field("nir", "none on standard input").into());
    }
    Ok(nir)
}

#[derive(clap::Args)]
pub struct Search {
    #[arg(long, default_value = "")]
    name: String,
    #[arg(long, default_value = "")]
    birth_date: String,
    /// Also match an exact NIR, read from standard input.
    #[arg(long)]
    nir_from_stdin: bool,
    #[arg(long, default_value = "")]
    structure: String,
    #[arg(long, default_value_t = 0)]
    lot: i32,
    #[arg(long, default_value_t = 50)]
    page_size: i32,
    #[arg(long, default_value = "")]
    page_token: String,
}

/// Asks on standard error whether to erase `id`, when `terminal`; the answer is read
/// from `answer`. Without a terminal nothing can be confirmed: refused.
fn confirm_erasure(
    id: &str,
    terminal: bool,
    answer: &mut impl std::io::BufRead,
    prompt: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    use tonic::Code;
    if !terminal {
        return Err(Failure::new(
            Code::FailedPrecondition,
            "Not erased: standard input is not a terminal to confirm on; pass --yes to \
             erase from a script",
        )
        .into());
    }
    write!(
        prompt,
        "Erase all personal data of {id}? This cannot be undone. Type yes: "
    )?;
    prompt.flush()?;
    let mut line = String::new();
    answer.read_line(&mut line)?;
    if line.trim() != "yes" {
        return Err(Failure::new(Code::Cancelled, "Not erased: the answer was not yes.").into());
    }
    Ok(())
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new(
        "beneficiaries",
        addr,
        "--beneficiaries-addr, CEP_BENEFICIARIES_ADDR",
    )?;
    let mut client = BeneficiaryServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    match cmd {
        Command::Register(r) => {
            let reply = client
                .register(request(
                    pb::RegisterRequest {
                        lot: r.lot,
                        structure_id: r.structure,
                        last_name: r.last_name,
                        first_name: r.first_name,
                        birth_date: r.birth_date,
                        employment_status: r.status,
                        usual_name: r.usual_name,
                        email: r.email,
                        phone: r.phone,
                        home_postal_code: r.home_postal_code,
                        work_postal_code: r.work_postal_code,
                        operator_ref: r.operator_ref,
                        allow_duplicate: r.allow_duplicate,
                        duplicate_reason: r.duplicate_reason,
                        other_cep_operator: r.other_cep_operator,
                        lot_exception_justification: r.lot_exception_justification,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
        Command::Get { beneficiary_id } => {
            let reply = client
                .get(request(pb::GetRequest { beneficiary_id }, &token)?)
                .await
                .map_err(status)?;
            output::print(format, &view(reply.get_ref()), None)
        }
        Command::Update {
            beneficiary_id,
            version,
            set,
        } => {
            let update = update_request(beneficiary_id, version, &set)?;
            let reply = client
                .update(request(update, &token)?)
                .await
                .map_err(status)?;
            output::print(format, &view(reply.get_ref()), None)
        }
        Command::Search(s) => {
            let reply = client
                .search(request(
                    pb::SearchRequest {
                        name_prefix: s.name,
                        birth_date: s.birth_date,
                        nir: if s.nir_from_stdin {
                            read_nir()?
                        } else {
                            String::new()
                        },
                        structure_id: s.structure,
                        lot: s.lot,
                        page_size: s.page_size,
                        page_token: s.page_token,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), Some("results"))
        }
        Command::SetNir {
            beneficiary_id,
            allow_duplicate,
            duplicate_reason,
        } => {
            let nir = read_nir()?;
            let reply = client
                .set_nir(request(
                    pb::SetNirRequest {
                        beneficiary_id,
                        nir,
                        allow_duplicate,
                        duplicate_reason,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
        Command::Eligibility { beneficiary_id, uo } => {
            let reply = client
                .check_eligibility(request(
                    pb::CheckEligibilityRequest {
                        beneficiary_id,
                        uo: uo.to_proto(),
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), Some("failed_rules"))
        }
        Command::Validate { beneficiary_id, uo } => {
            let reply = client
                .validate_for(request(
                    pb::ValidateForRequest {
                        beneficiary_id,
                        uo: uo.to_proto(),
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
        Command::Export { beneficiary_id } => {
            let reply = client
                .export_personal_data(request(
                    pb::ExportPersonalDataRequest { beneficiary_id },
                    &token,
                )?)
                .await
                .map_err(status)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{}", reply.get_ref().json);
            }
            Ok(())
        }
        Command::Erase {
            beneficiary_id,
            reason,
            yes,
        } => {
            if !yes {
                use std::io::IsTerminal;
                confirm_erasure(
                    &beneficiary_id,
                    std::io::stdin().is_terminal(),
                    &mut std::io::stdin().lock(),
                    &mut std::io::stderr(),
                )?;
            }
            let reply = client
                .erase(request(
                    pb::EraseRequest {
                        beneficiary_id,
                        reason,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
        Command::Accesses {
            beneficiary_id,
            page_size,
            page_token,
        } => {
            let reply = client
                .list_accesses(request(
                    pb::ListAccessesRequest {
                        beneficiary_id,
                        page_size,
                        page_token,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), Some("accesses"))
        }
    }
}

/// An `UpdateRequest` from `FIELD=VALUE` pairs.
fn update_request(
    beneficiary_id: String,
    version: i64,
    pairs: &[String],
) -> anyhow::Result<pb::UpdateRequest> {
    let mut r = pb::UpdateRequest {
        beneficiary_id,
        version,
        ..Default::default()
    };
    let mut p = pb::ProfileUpdate::default();
    let mut seen = std::collections::BTreeSet::new();
    for pair in pairs {
        // the pair is not repeated: its value may be a person's
        let (field, value) = pair
            .split_once('=')
            .ok_or_else(|| Failure::invalid_field("--set", "expected FIELD=VALUE"))?;
        if !seen.insert(field) {
            return Err(Failure::invalid_field(
                field,
                "is set more than once: give each field one --set",
            )
            .into());
        }
        let value = Some(value.to_owned());
        match field {
            "structure_id" => r.structure_id = value,
            "last_name" => r.last_name = value,
            "first_name" => r.first_name = value,
            "usual_name" => r.usual_name = value,
            "birth_date" => r.birth_date = value,
            "employment_status" => r.employment_status = value,
            "email" => r.email = value,
            "phone" => r.phone = value,
            "home_postal_code" => r.home_postal_code = value,
            "work_postal_code" => r.work_postal_code = value,
            "operator_ref" => r.operator_ref = value,
            "other_cep_operator" => r.other_cep_operator = value,
            "lot_exception_justification" => r.lot_exception_justification = value,
            "profile.sex" => p.sex = value,
            "profile.address_street_number" => p.address_street_number = value,
            "profile.address_street_type" => p.address_street_type = value,
            "profile.address_street_name" => p.address_street_name = value,
            "profile.address_postal_code" => p.address_postal_code = value,
            "profile.address_city" => p.address_city = value,
            "profile.education_level" => p.education_level = value,
            "profile.naf_section" => p.naf_section = value,
            "profile.company_size" => p.company_size = value,
            "profile.social_category" => p.social_category = value,
            "profile.sector_label" => p.sector_label = value,
            "profile.job_label" => p.job_label = value,
            "profile.company_entry_month" => p.company_entry_month = value,
            "profile.disability" => p.disability = value,
            "profile.employer_department" => p.employer_department = value,
            "profile.employer_postal_code" => p.employer_postal_code = value,
            "profile.employer_city" => p.employer_city = value,
            other => {
                return Err(
                    Failure::invalid_field(other, "is not a field of a beneficiary").into(),
                );
            }
        }
    }
    if p != pb::ProfileUpdate::default() {
        r.profile = Some(p);
    }
    Ok(r)
}

/// What `get` and `update` print of a record. The contract's message has no
/// `Serialize` (it may carry a NIR): the fields are listed here, the NIR only when the
/// service sent it (the roles that see it in full).
fn view(b: &pb::Beneficiary) -> serde_json::Value {
    let mut v = serde_json::json!({
        "beneficiary_id": b.beneficiary_id,
        "lot": b.lot,
        "structure_id": b.structure_id,
        "last_name": b.last_name,
        "usual_name": b.usual_name,
        "first_name": b.first_name,
        "birth_date": b.birth_date,
        "employment_status": b.employment_status,
        "email": b.email,
        "phone": b.phone,
        "home_postal_code": b.home_postal_code,
        "work_postal_code": b.work_postal_code,
        "operator_ref": b.operator_ref,
        "other_cep_operator": b.other_cep_operator,
        "lot_exception_justification": b.lot_exception_justification,
        "has_nir": b.has_nir,
        "nir_masked": b.nir_masked,
        "profile": b.profile,
        "version": b.version,
        "reference_version": b.reference_version,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "erased_at": b.erased_at,
    });
    if !b.nir.is_empty() {
        v["nir"] = serde_json::Value::String(b.nir.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_pairs_fill_the_update_and_its_profile() {
        let r = update_request(
            "id".into(),
            3,
            &[
                "phone=0612345678".into(),
                "profile.sex=F".into(),
                "email=".into(),
            ],
        )
        .expect("valid");
        assert_eq!(r.version, 3);
        assert_eq!(r.phone.as_deref(), Some("0612345678"));
        assert_eq!(r.email.as_deref(), Some(""));
        assert_eq!(r.profile.and_then(|p| p.sex).as_deref(), Some("F"));
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[test]
    fn a_nir_is_never_taken_from_the_command_line() {
        use clap::Parser;
        let nir = "2 84 12 44 109 123 45";
        assert!(Cli::try_parse_from(["b", "set-nir", "id", nir]).is_err());
        assert!(Cli::try_parse_from(["b", "search", "--nir", nir]).is_err());
        assert!(Cli::try_parse_from(["b", "set-nir", "id"]).is_ok());
        assert!(Cli::try_parse_from(["b", "search", "--nir-from-stdin"]).is_ok());
    }

    #[test]
    fn a_field_set_twice_is_refused_by_name() {
        let err = update_request(
            "id".into(),
            1,
            &["profile.sex=F".into(), "profile.sex=M".into()],
        )
        .expect_err("twice");
        assert_eq!(
            err.to_string(),
            "Some fields are not valid:\n  - profile.sex: is set more than once: give each field one --set"
        );
    }

    #[test]
    fn an_erasure_goes_on_only_when_yes_is_typed_on_a_terminal() {
        let confirm = |terminal: bool, typed: &str| {
            let mut prompt = Vec::new();
            let answer = confirm_erasure("0193", terminal, &mut typed.as_bytes(), &mut prompt);
            (answer, String::from_utf8(prompt).expect("utf-8"))
        };
        let (answer, prompt) = confirm(true, "yes\n");
        assert!(answer.is_ok());
        assert_eq!(
            prompt,
            "Erase all personal data of 0193? This cannot be undone. Type yes: "
        );
        assert!(confirm(true, "y\n").0.is_err());
        assert!(confirm(true, "").0.is_err());
        let (answer, prompt) = confirm(false, "yes\n");
        assert!(
            answer
                .expect_err("no terminal")
                .to_string()
                .contains("--yes")
        );
        assert!(prompt.is_empty());
    }

    #[test]
    fn an_unknown_field_or_a_pair_without_value_is_refused() {
        assert!(update_request("id".into(), 1, &["nir=1".into()]).is_err());
        assert!(update_request("id".into(), 1, &["phone".into()]).is_err());
    }
}
