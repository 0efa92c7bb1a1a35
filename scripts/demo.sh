#!/usr/bin/env bash
# Loads demo data into the running local stack through the public APIs: people in
# several lots and structures (cepctl), then their purchase orders and journeys
# (scripts/demo_journeys.py, a generic gRPC client through server reflection). Safe to
# run twice: a second run finds the probable duplicates and the journeys already there.
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC1091
source "$ROOT/.local/stack.env"

token_for() { cepctl dev-token --role "$1" --lot "$2" --subject "demo-$1-lot$2"; }

id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["beneficiary_id"])'; }

# duplicate_of FILE: the id of the existing person an `--output json` refusal of
# cepctl (in FILE, standard error) names as a probable duplicate; fails otherwise.
duplicate_of() {
    python3 - "$1" <<'PY'
import json, re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        error = json.loads(line)["error"]
    except (ValueError, KeyError, TypeError):
        continue
    m = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", error.get("message", ""))
    if error.get("code") == "ALREADY_EXISTS" and m:
        print(m.group(0))
        sys.exit(0)
sys.exit(1)
PY
}

# register LOT STRUCTURE LAST FIRST BIRTH STATUS HOME_POSTAL_CODE [EMAIL]: the new
# person's id, or the id of the same person registered by an earlier run
register() {
    local out err rc=0
    err="$(mktemp)"
    out=$(CEP_TOKEN="$(token_for counsellor "$1")" cepctl beneficiary register --output json \
        --lot "$1" --structure "$2" --last-name "$3" --first-name "$4" --birth-date "$5" \
        --status "$6" --home-postal-code "$7" ${8:+--email "$8"} 2>"$err") || rc=$?
    if [ "$rc" = 0 ]; then
        echo "$out" | id_of
    elif ! duplicate_of "$err"; then
        log "register $4 $3 failed: $(cat "$err")"; rm -f "$err"; return 1
    fi
    rm -f "$err"
}

log "loading demo data"
export CEP_TOKEN
# Lot 8, Pays de la Loire: two structures.
a=$(register 8 nantes-centre Lefèvre Anne 1984-12-03 SALARIE_PRIVE 44000 anne.lefevre@example.fr)
b=$(register 8 nantes-centre Martin Paul 1979-05-21 INTERIMAIRE 44300)
c=$(register 8 angers Dubois Claire 1991-02-11 AGENT_PUBLIC 49000)
d=$(register 8 angers Moreau Lucas 1968-07-30 DEMANDEUR_EMPLOI 49100)
# Lot 1, Île-de-France; lot 13, La Réunion; lot 16, Corse.
e=$(register 1 paris-nord Bernard Sofia 1995-09-14 SALARIE_PRIVE 75018 sofia.bernard@example.fr)
f=$(register 1 paris-nord Petit Hugo 1988-01-02 INDEPENDANT 93200)
g=$(register 13 saint-denis Payet Maëva 1990-04-25 SALARIE_PRIVE 97400)
h=$(register 16 ajaccio Santoni Petru 1982-10-08 SALARIE_PRIVE 20090)
# Lot 8 again, journeys dated back: due soon, abandoned, overdue and active, a late appointment.
i=$(register 8 nantes-centre Roux Camille 1986-03-17 SALARIE_PRIVE 44100)
j=$(register 8 nantes-centre Girard Théo 1977-11-05 SALARIE_PRIVE 44200)
k=$(register 8 angers Faure Inès 1993-06-29 SALARIE_PRIVE 49000)
l=$(register 8 angers Blanc Jules 1989-08-12 SALARIE_PRIVE 49100)

# complete_profile LOT ID POSTAL_CODE CITY: the fields annex 2 makes mandatory from
# UO1 on (journeys asks beneficiaries for them before it engages a UO1 or a UO2), for
# a person whose counsellor has gathered them; a rerun finds them there.
complete_profile() {
    local version email extra=()
    CEP_TOKEN=$(token_for counsellor "$1")
    if cepctl beneficiary validate "$2" --uo UO1 --output json 2>/dev/null \
        | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("complete") else 1)'; then
        return 0
    fi
    read -r version email < <(cepctl beneficiary get "$2" --output json \
        | python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["version"], b.get("email") or "-")')
    [ "$email" = "-" ] && extra=(--set "email=contact.${2:0:8}@example.fr")
    cepctl beneficiary update "$2" --version "$version" "${extra[@]}" --set profile.sex=F \
        --set profile.address_street_number=12 --set profile.address_street_type=rue \
        --set "profile.address_street_name=de la Gare" --set "profile.address_postal_code=$3" \
        --set "profile.address_city=$4" --set profile.education_level=NIVEAU_5 \
        --set profile.naf_section=C --set profile.company_size=TAILLE_10_49 \
        --set profile.social_category=PCS_4 --set "profile.sector_label=Industrie" \
        --set "profile.job_label=Technicienne méthodes" --set profile.company_entry_month=2015-09 >/dev/null
}
complete_profile 8 "$a" 44000 Nantes
complete_profile 8 "$b" 44300 Nantes
complete_profile 8 "$d" 49100 Angers
complete_profile 1 "$e" 75018 Paris
complete_profile 1 "$f" 93200 Saint-Denis
complete_profile 13 "$g" 97400 Saint-Denis
complete_profile 16 "$h" 20090 Ajaccio
complete_profile 8 "$i" 44100 Nantes
complete_profile 8 "$j" 44200 Nantes
complete_profile 8 "$k" 49000 Angers
complete_profile 8 "$l" 49100 Angers
CEP_TOKEN=$(token_for counsellor 8)
cepctl beneficiary eligibility "$a" --uo UO1
cepctl beneficiary eligibility "$c" --uo UO1 || true
cepctl beneficiary validate "$a" --uo UO1 || true

log "journeys: purchase orders, aiguillages, UO1 and UO2.1 (through server reflection)"
"$(grpc_python)" "$ROOT/scripts/demo_journeys.py" anne="$a" paul="$b" claire="$c" lucas="$d" \
    sofia="$e" hugo="$f" maeva="$g" petru="$h" camille="$i" theo="$j" ines="$k" jules="$l"

# Anne's NIR, now that her UO1 is engaged (it is not asked at the first contact);
# journeys' fact reaches beneficiaries within a second.
CEP_TOKEN=$(token_for counsellor 8)
for _ in 1 2 3 4 5 6 7 8 9 10; do
    echo "2 84 12 44 109 123 $(python3 -c 'n=2841244109123; print(f"{97 - n % 97:02d}")')" \
        | cepctl beneficiary set-nir "$a" >/dev/null 2>&1 && break
    sleep 0.5
done

log "deliverables: two signed electronically, one on paper (through server reflection)"
"$(grpc_python)" "$ROOT/scripts/demo_deliverables.py" anne="$a" sofia="$e" maeva="$g"

log "journeys: Sofia goes on to implement her project (UO2.2, after her signed UO2.1)"
uo22_demo() {
    local out i
    CEP_TOKEN=$(token_for counsellor 1)
    for i in $(seq 1 40); do
        # journeys closes the UO2.1 from the signature's fact within a second or two
        if out=$(cepctl journey engage "$e" --uo UO2.2 --date "$(date +%F)" --origin ENTREPRISE \
            --reason FAIRE_LE_POINT --output json 2>&1); then
            echo "$out" | python3 -c 'import json,sys; u=json.load(sys.stdin); print(u["uo"], u["dossier_number"], "deadline", u["deadline"])'
            return 0
        fi
        case "$out" in
            *UO2_1_ALREADY_FOLLOWED*|*ONE_OPEN_UO*) log "journeys: Sofia's UO2.2 is already there"; return 0 ;;
            *UO2_1_NOT_SIGNED*) sleep 0.5 ;;
            *) echo "$out" >&2; return 1 ;;
        esac
    done
    log "journeys: Sofia's UO2.1 was not closed by its signature in time"; return 1
}
uo22_demo

log "claims: received, acknowledged (one late), answered, one referred to the mediator"
claims_demo() {
    local ack_late on_time referred
    CEP_TOKEN=$(token_for mediation 8)
    today=$(date +%F)
    ago() { date -d "$1 days ago" +%F; }
    if cepctl claim stats --lot 8 --from "$(ago 90)" --to "$today" --output json \
        | python3 -c 'import json,sys; sys.exit(0 if int(json.load(sys.stdin).get("received", 0)) > 0 else 1)'; then
        log "claims: the demo claims are already there"; return 0
    fi
    on_time=$(cepctl claim receive --output json --lot 8 --structure nantes-centre --beneficiary "$a" \
        --received "$(ago 20)" --channel EMAIL --reason DELAI_RENDEZ_VOUS --reply-by EMAIL \
        --text "Je n'obtiens pas de rendez-vous avant six semaines." | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim_id"])')
    cepctl claim ack "$on_time" --date "$(ago 18)" >/dev/null
    cepctl claim answer "$on_time" --date "$(ago 5)" --summary "Un créneau vous est proposé dès la semaine prochaine." >/dev/null
    ack_late=$(cepctl claim receive --output json --lot 8 --structure angers --received "$(ago 30)" \
        --channel COURRIER --reason ACCUEIL --text "Personne ne répond au téléphone de l'agence." \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim_id"])')
    cepctl claim ack "$ack_late" --date "$(ago 15)" >/dev/null
    referred=$(cepctl claim receive --output json --lot 8 --structure nantes-centre --received "$(ago 60)" \
        --channel FORMULAIRE_EN_LIGNE --reason QUALITE_ACCOMPAGNEMENT --text "Le projet proposé ne me convient pas." \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim_id"])')
    cepctl claim ack "$referred" --date "$(ago 57)" >/dev/null
    cepctl claim answer "$referred" --date "$(ago 40)" --summary "Un nouvel entretien vous a été proposé." >/dev/null
    cepctl claim refer "$referred" --date "$(ago 10)" --mediator-reference MED-DEMO-1 >/dev/null
    cepctl claim receive --lot 8 --structure angers --received "$(ago 3)" --channel EMAIL \
        --reason LIVRABLE --text "Je n'ai pas reçu mon état des lieux." >/dev/null
    cepctl claim stats --lot 8 --from "$(ago 90)" --to "$today"
}
claims_demo

log "exchange: yesterday's annex-2 files of lot 8 (under .local/exchange/) and this month's indicators"
CEP_TOKEN=$(token_for si 8)
# Pays de la Loire, INSEE orders of magnitude: active population, and the CEP population
cepctl exchange population --lot 8 --year "$(date +%Y)" --active 1800000 --cep 1250000 >/dev/null
cepctl exchange daily --lot 8 --day "$(date -d yesterday +%F)"
cepctl exchange means --lot 8 --year "$(date +%Y)" --half "$(( $(date +%-m) <= 6 ? 1 : 2 ))" \
    --fte UO0=1 --fte UO1=6.5 --fte UO2.1=4 --fte UO2.2=2 >/dev/null
cepctl exchange indicators --lot 8 --month "$(date +%Y-%m)"
cepctl exchange report --lot 8 --month "$(date +%Y-%m)" --out "$ROOT/.local/exchange/rapport-lot08.html"
if [ -f "$ROOT/.local/ftps/ready" ]; then
    log "exchange: yesterday's files delivered to the local FTPS server (.local/ftps/root/)"
    cepctl exchange deliver --lot 8
fi

log "demo data loaded: lot 8 ($a $b $c $d), lot 1 ($e $f), lot 13 ($g), lot 16 ($h)"
