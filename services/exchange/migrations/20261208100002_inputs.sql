-- The inputs of the indicators that no fact carries: the means per UO of a half-year
-- (7.1–7.4), and France compétences' own measures imported from CSV (8.1 survey,
-- 8.3 mystery shopper, 8.5 deliverable audit).
CREATE TABLE means (
    lot smallint NOT NULL,
    year integer NOT NULL,
    half smallint NOT NULL CHECK (half IN (1, 2)),
    uo text NOT NULL CHECK (uo IN ('UO0', 'UO1', 'UO2.1', 'UO2.2')),
    fte numeric(8, 2) NOT NULL CHECK (fte >= 0),
    PRIMARY KEY (lot, year, half, uo)
);

CREATE TABLE imported_figures (
    lot smallint NOT NULL,
    code text NOT NULL CHECK (code IN ('8.1', '8.3', '8.5')),
    month date NOT NULL,
    denominator bigint NOT NULL CHECK (denominator >= 0),
    numerator bigint NOT NULL CHECK (numerator >= 0 AND numerator <= denominator),
    imported_at timestamptz NOT NULL,
    PRIMARY KEY (lot, code, month)
);
