//! The deliverables service on the platform's harness, beside the journeys and
//! beneficiaries services on one nats-server: the whole ceremony, judged by the
//! outside validators (pyHanko, poppler's pdfsig).

mod ceremony;
mod drafting;
mod erasure;
mod exchange;
mod helpers;
mod paper;
mod pkcs12;
