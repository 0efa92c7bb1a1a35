-- The version of the encryption key each NIR is sealed under, so keys can be
-- rotated (`beneficiaries nir rotate`) while the service runs. Every NIR sealed so
-- far is under the first key.
alter table beneficiaries add column nir_key_version smallint;
update beneficiaries set nir_key_version = 1 where nir_sealed is not null;
alter table beneficiaries
    add constraint beneficiaries_nir_key_version
    check ((nir_sealed is null) = (nir_key_version is null) and (nir_key_version is null or nir_key_version >= 1));
create index beneficiaries_nir_key_version on beneficiaries (nir_key_version) where nir_key_version is not null;
