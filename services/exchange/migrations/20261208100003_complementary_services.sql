-- The complementary services the persons of UO2 units take up (journeys' facts):
-- indicators 6.1 and 8.6, and the UO2 records of the daily files.
CREATE TABLE complementary_services (
    complementary_service_id uuid PRIMARY KEY,
    uo_id uuid NOT NULL,
    lot smallint NOT NULL,
    kind text NOT NULL,
    auto_prescription boolean NOT NULL,
    funding text NOT NULL,
    recorded_on date NOT NULL
);
CREATE INDEX complementary_services_by_unit ON complementary_services (uo_id);
CREATE INDEX complementary_services_by_lot ON complementary_services (lot, recorded_on);
