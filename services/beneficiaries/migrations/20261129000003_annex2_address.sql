-- Annex 2 splits the postal address (street number, street type, street name) and
-- adds the employer's department (00 for a cross-border employer) and commune. The
-- free-form address line recorded so far is kept whole as the street name.
UPDATE beneficiaries
SET profile = (profile - 'address_line')
    || jsonb_build_object('address_street_name', profile -> 'address_line')
WHERE profile ? 'address_line';
