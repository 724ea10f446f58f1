//! The demo registry: the entities of the SPEC example, one named entity per real-world
//! defect (for the golden cases), and a seeded crowd of ordinary carriers around them.
//!
//! `oscar demo-registry --out DIR` writes it; the copy in `registry-demo/` is embedded in
//! the binary and a test checks it equals a fresh generation.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;

use crate::ids::{with_id_check, with_uscc_check};
use crate::registry::{
    AuthorizationRecord, Certificate, CompanyRecord, CompanyStatus, DrivingLicence, Insurance, PersonRecord,
    Qualification, TrailerType, TransportLicense, VehicleKind, VehicleRecord, VehicleStatus,
};
use crate::rng::SplitMix64;

/// The seed of the shipped demo registry.
pub const SEED: u64 = 20261120;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// One generated registry, with a line per named scenario entity for the README.
#[derive(Default)]
struct Demo {
    companies: Vec<CompanyRecord>,
    people: Vec<PersonRecord>,
    vehicles: Vec<VehicleRecord>,
    authorizations: Vec<AuthorizationRecord>,
    scenarios: Vec<(String, String, String)>,
}

const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林"];
const GIVEN: [&str; 16] =
    ["强", "明", "伟", "磊", "军", "勇", "杰", "涛", "斌", "超", "鹏", "华", "平", "刚", "飞", "辉"];
const CITIES: [(&str, &str, &str); 6] = [
    ("济宁", "370800", "鲁H"),
    ("青岛", "370200", "鲁B"),
    ("郑州", "410100", "豫A"),
    ("南京", "320100", "苏A"),
    ("沈阳", "210100", "辽A"),
    ("成都", "510100", "川A"),
];

/// Everything valid through the demo schedules (late 2026) and beyond.
fn good_company(uscc: String, name: &str, licence_no: &str) -> CompanyRecord {
    CompanyRecord {
        uscc,
        name: name.to_string(),
        status: CompanyStatus::Active,
        business_license_expires: Some(date(2036, 3, 14)),
        transport_license: Some(TransportLicense {
            number: licence_no.to_string(),
            scope: vec!["general_freight".into(), "large_cargo".into()],
            expires: Some(date(2028, 6, 30)),
        }),
        banned_until: None,
        overlimit_violations_12m: 0,
        liability_insurance: Some(Insurance { cover_cny: 5_000_000.0, expires: Some(date(2027, 6, 30)) }),
    }
}

fn good_person(id_number: String, name: &str, licence: Option<&str>, qualification: &str, n: usize) -> PersonRecord {
    PersonRecord {
        id_number,
        name: name.to_string(),
        driving_licence: licence.map(|class| DrivingLicence { class: class.into(), expires: Some(date(2031, 5, 5)) }),
        qualifications: vec![Qualification {
            kind: qualification.into(),
            number: format!("Q{:08}", 37_080_000 + n),
            expires: Some(date(2029, 1, 31)),
        }],
        violation_points: 0,
        banned_until: None,
    }
}

fn vehicle(plate: &str, vin: String, kind: VehicleKind, owner: &str) -> VehicleRecord {
    let (trailer_type, axles, curb, l, w, h) = match kind {
        VehicleKind::Tractor => (None, 3, 9_500.0, 6.9, 2.5, 3.6),
        VehicleKind::Trailer => (Some(TrailerType::Ordinary), 3, 16_000.0, 13.0, 3.0, 1.0),
        VehicleKind::Truck => (None, 3, 12_000.0, 9.5, 2.5, 3.4),
        VehicleKind::EscortCar => (None, 2, 1_900.0, 4.9, 1.9, 1.8),
    };
    VehicleRecord {
        plate: plate.to_string(),
        vin,
        kind,
        owner_uscc: owner.to_string(),
        status: VehicleStatus::Registered,
        trailer_type,
        axles,
        curb_mass_kg: curb,
        length_m: l,
        width_m: w,
        height_m: h,
        inspection_expires: Some(date(2027, 8, 31)),
        transport_certificate: Some(Certificate {
            number: format!("TC{}", &plate.chars().filter(char::is_ascii_alphanumeric).collect::<String>()),
            expires: Some(date(2028, 8, 31)),
        }),
    }
}

fn vin(n: u64) -> String {
    format!("LZZ5BLSJ{n:09}")
}

impl Demo {
    fn scenario(&mut self, key: &str, kind: &str, what: &str) {
        self.scenarios.push((key.to_string(), kind.to_string(), what.to_string()));
    }

    /// The SPEC example's carrier, agent, drivers, escort and combination.
    fn spec_example(&mut self) {
        let uscc = "91370800MA3C5Q8K44".to_string();
        self.companies.push(good_company(uscc.clone(), "济宁通达大件运输有限公司", "370800001234"));
        let agent = "37080219900101123X".to_string();
        self.people.push(good_person(agent.clone(), "王强", None, "freight_driver", 1));
        self.people.push(good_person("37081119850505231X".into(), "李明", Some("A2"), "freight_driver", 2));
        self.people.push(good_person("370811199003032313".into(), "赵刚", Some("C1"), "large_cargo_escort", 3));
        self.people.push(good_person(with_id_check("37081119880808441"), "孙飞", Some("C1"), "large_cargo_escort", 4));
        self.vehicles.push(vehicle("鲁H12345", vin(1), VehicleKind::Tractor, &uscc));
        self.vehicles.push(vehicle("鲁H6789挂", vin(2), VehicleKind::Trailer, &uscc));
        self.vehicles.push(vehicle("鲁H2345A", vin(3), VehicleKind::EscortCar, &uscc));
        self.vehicles.push(vehicle("鲁H2346A", vin(4), VehicleKind::EscortCar, &uscc));
        let mut modular = vehicle("鲁H6790挂", vin(5), VehicleKind::Trailer, &uscc);
        modular.trailer_type = Some(TrailerType::HydraulicModular);
        modular.axles = 10;
        modular.curb_mass_kg = 38_000.0;
        modular.length_m = 15.0;
        modular.width_m = 3.0;
        modular.height_m = 1.2;
        self.vehicles.push(modular);
        let mut tractor = vehicle("鲁H12346", vin(6), VehicleKind::Tractor, &uscc);
        tractor.axles = 4;
        tractor.curb_mass_kg = 15_000.0;
        self.vehicles.push(tractor);
        self.vehicles.push(vehicle("鲁H12347", vin(7), VehicleKind::Truck, &uscc));
        self.authorizations.push(AuthorizationRecord {
            reference: "AUTH-77".into(),
            agent_id_number: agent,
            carrier_uscc: uscc.clone(),
            valid_from: date(2026, 1, 1),
            valid_until: Some(date(2027, 12, 31)),
        });
        for (key, what) in [
            (uscc.as_str(), "SPEC carrier: 济宁通达大件运输有限公司, clean"),
            ("鲁H12345 / 鲁H6789挂", "SPEC tractor (3 axles, 9,500 kg) and low-bed trailer (3 axles, 16,000 kg)"),
            ("鲁H6790挂", "hydraulic modular trailer, 10 axle lines, 38,000 kg"),
            ("鲁H12346", "4-axle heavy tractor, 15,000 kg"),
            ("鲁H12347", "3-axle rigid truck, 12,000 kg"),
            ("鲁H2345A / 鲁H2346A", "escort cars"),
            ("370811199003032313", "escort 赵刚, qualified"),
            ("AUTH-77", "王强 for the SPEC carrier, 2026-01-01..2027-12-31"),
        ] {
            self.scenario(key, "clean", what);
        }
    }

    /// A US heavy-haul carrier for the US rulebook's cases; identifiers follow no check-digit
    /// scheme there (USDOT number as company key, state licence numbers for people).
    fn us_example(&mut self) {
        let usdot = "USDOT-2214567".to_string();
        let mut c = good_company(usdot.clone(), "Lone Star Heavy Haul LLC", "MC-778812");
        c.liability_insurance = Some(Insurance { cover_cny: 7_000_000.0, expires: Some(date(2027, 9, 30)) });
        self.companies.push(c);
        self.people.push(good_person("TX-DL-40112233".into(), "Maria Gonzalez", None, "freight_driver", 5));
        self.people.push(good_person("TX-DL-40556677".into(), "James Walker", Some("A"), "freight_driver", 6));
        self.people.push(good_person("TX-DL-40998877".into(), "Dwayne Fisher", Some("C"), "large_cargo_escort", 7));
        let mut tractor = vehicle("TX R914532", vin(20), VehicleKind::Tractor, &usdot);
        tractor.curb_mass_kg = 9_100.0;
        self.vehicles.push(tractor);
        let mut lowboy = vehicle("TX 1KT2207", vin(21), VehicleKind::Trailer, &usdot);
        lowboy.axles = 3;
        lowboy.curb_mass_kg = 14_500.0;
        lowboy.length_m = 16.2;
        lowboy.width_m = 2.6;
        self.vehicles.push(lowboy);
        self.vehicles.push(vehicle("TX PILOT01", vin(22), VehicleKind::EscortCar, &usdot));
        self.authorizations.push(AuthorizationRecord {
            reference: "AUTH-TX-1".into(),
            agent_id_number: "TX-DL-40112233".into(),
            carrier_uscc: usdot.clone(),
            valid_from: date(2026, 1, 1),
            valid_until: None,
        });
        self.scenario(&usdot, "clean (US)", "Lone Star Heavy Haul LLC: tractor TX R914532 + 3-axle lowboy TX 1KT2207, driver TX-DL-40556677, escort TX-DL-40998877 with TX PILOT01, AUTH-TX-1");
    }

    /// One carrier per company defect, each with a clean fleet and an authorization for the
    /// SPEC agent, so a golden case can change the carrier alone.
    fn company_defects(&mut self) {
        type Defect = (&'static str, &'static str, fn(&mut CompanyRecord));
        let defects: [Defect; 11] = [
            ("business-licence-expired", "business licence expired 2026-06-30", |c| {
                c.business_license_expires = Some(date(2026, 6, 30))
            }),
            ("revoked", "status revoked", |c| c.status = CompanyStatus::Revoked),
            ("no-large-cargo-scope", "transport licence scope lacks large_cargo", |c| {
                if let Some(t) = &mut c.transport_license {
                    t.scope = vec!["general_freight".into()];
                }
            }),
            ("transport-licence-lapses", "transport licence expires 2026-12-03, mid-schedule", |c| {
                if let Some(t) = &mut c.transport_license {
                    t.expires = Some(date(2026, 12, 3));
                }
            }),
            ("no-transport-licence", "no transport licence on record", |c| c.transport_license = None),
            ("banned", "banned from over-limit transport until 2027-03-01", |c| {
                c.banned_until = Some(date(2027, 3, 1))
            }),
            ("violations", "5 over-limit violations in 12 months", |c| c.overlimit_violations_12m = 5),
            ("insurance-expired", "liability insurance expired 2026-10-31", |c| {
                c.liability_insurance = Some(Insurance { cover_cny: 5_000_000.0, expires: Some(date(2026, 10, 31)) })
            }),
            ("insurance-low", "liability cover 500,000 CNY", |c| {
                c.liability_insurance = Some(Insurance { cover_cny: 500_000.0, expires: Some(date(2027, 6, 30)) })
            }),
            ("no-insurance", "no liability insurance on record", |c| c.liability_insurance = None),
            ("clean-second", "a second clean carrier", |_| {}),
        ];
        for (i, (tag, what, defect)) in defects.iter().enumerate() {
            let n = i + 1;
            let uscc = with_uscc_check(&format!("913708000000{n:05}"));
            let mut c = good_company(uscc.clone(), &format!("济宁示例{n}号运输有限公司"), &format!("3708000{n:05}"));
            defect(&mut c);
            self.companies.push(c);
            let tractor = format!("鲁H{:05}", 50_000 + n);
            let trailer = format!("鲁H{:04}挂", 5_000 + n);
            self.vehicles.push(vehicle(&tractor, vin(100 + 2 * n as u64), VehicleKind::Tractor, &uscc));
            self.vehicles.push(vehicle(&trailer, vin(101 + 2 * n as u64), VehicleKind::Trailer, &uscc));
            let reference = format!("AUTH-{}", tag.to_uppercase());
            self.authorizations.push(AuthorizationRecord {
                reference: reference.clone(),
                agent_id_number: "37080219900101123X".into(),
                carrier_uscc: uscc.clone(),
                valid_from: date(2026, 1, 1),
                valid_until: Some(date(2027, 12, 31)),
            });
            self.scenario(
                &uscc,
                &format!("company: {tag}"),
                &format!("{what}; fleet {tractor} + {trailer}, {reference}"),
            );
        }
    }

    /// Vehicles of the SPEC carrier with one defect each.
    fn vehicle_defects(&mut self) {
        let spec = "91370800MA3C5Q8K44";
        let other = with_uscc_check("91370800000000011");
        type Defect = (&'static str, VehicleKind, &'static str, fn(&mut VehicleRecord));
        let defects: [Defect; 6] = [
            ("鲁H7001挂", VehicleKind::Trailer, "inspection expired 2026-09-30", |v| {
                v.inspection_expires = Some(date(2026, 9, 30))
            }),
            ("鲁H7002挂", VehicleKind::Trailer, "transport certificate expired 2026-05-31", |v| {
                if let Some(c) = &mut v.transport_certificate {
                    c.expires = Some(date(2026, 5, 31));
                }
            }),
            ("鲁H70003", VehicleKind::Tractor, "scrapped", |v| v.status = VehicleStatus::Scrapped),
            ("鲁H7004挂", VehicleKind::Trailer, "registration suspended", |v| v.status = VehicleStatus::Suspended),
            ("鲁H7005挂", VehicleKind::Trailer, "owned by another carrier (济宁示例11号)", |_| {}),
            ("鲁H7006挂", VehicleKind::Trailer, "no transport certificate on record", |v| {
                v.transport_certificate = None
            }),
        ];
        for (i, (plate, kind, what, defect)) in defects.iter().enumerate() {
            let owner = if plate.ends_with("7005挂") { other.as_str() } else { spec };
            let mut v = vehicle(plate, vin(200 + i as u64), *kind, owner);
            defect(&mut v);
            self.vehicles.push(v);
            self.scenario(plate, "vehicle defect", what);
        }
    }

    /// People and authorizations with one defect each.
    fn people_defects(&mut self) {
        type Defect = (&'static str, &'static str, fn(&mut PersonRecord));
        let defects: [Defect; 7] = [
            ("370811198001010", "licence class B2 (not for tractor-trailers)", |p| {
                if let Some(l) = &mut p.driving_licence {
                    l.class = "B2".into();
                }
            }),
            ("370811198002020", "driving licence expired 2026-08-01", |p| {
                if let Some(l) = &mut p.driving_licence {
                    l.expires = Some(date(2026, 8, 1));
                }
            }),
            ("370811198003030", "freight qualification expired 2026-11-30, before the schedule ends", |p| {
                p.qualifications[0].expires = Some(date(2026, 11, 30))
            }),
            ("370811198004040", "banned from driving until 2027-01-15", |p| p.banned_until = Some(date(2027, 1, 15))),
            ("370811198005050", "12 violation points", |p| p.violation_points = 12),
            ("370811198006060", "escort without large_cargo_escort qualification", |p| {
                p.qualifications[0].kind = "freight_driver".into()
            }),
            ("370811198007070", "no driving licence on record", |p| p.driving_licence = None),
        ];
        for (i, (body, what, defect)) in defects.iter().enumerate() {
            let id = with_id_check(&format!("{body}{:02}", 11 + i));
            let mut p = good_person(id.clone(), &format!("测试{}", i + 1), Some("A2"), "freight_driver", 10 + i);
            defect(&mut p);
            self.people.push(p);
            self.scenario(&id, "person defect", what);
        }
        let spec = "91370800MA3C5Q8K44";
        let auths = [
            (
                "AUTH-EXPIRED",
                "37080219900101123X",
                spec,
                date(2025, 1, 1),
                Some(date(2025, 12, 31)),
                "expired 2025-12-31",
            ),
            ("AUTH-OTHER-AGENT", "37081119850505231X", spec, date(2026, 1, 1), None, "issued to 李明, not 王强"),
            ("AUTH-FUTURE", "37080219900101123X", spec, date(2027, 1, 1), None, "valid only from 2027-01-01"),
        ];
        for (reference, agent, carrier, from, until, what) in auths {
            self.authorizations.push(AuthorizationRecord {
                reference: reference.into(),
                agent_id_number: agent.into(),
                carrier_uscc: carrier.into(),
                valid_from: from,
                valid_until: until,
            });
            self.scenario(reference, "authorization defect", what);
        }
    }

    /// A seeded crowd of ordinary carriers with occasional real-world defects.
    fn crowd(&mut self, rng: &mut SplitMix64, carriers: usize) {
        for n in 0..carriers {
            let (city, area, plate_prefix) = *rng.pick(&CITIES);
            let uscc = with_uscc_check(&format!("91{area}{:09}", 100_000 + n));
            let mut c = good_company(
                uscc.clone(),
                &format!("{city}{}{}物流有限公司", rng.pick(&SURNAMES), rng.pick(&GIVEN)),
                &format!("{area}{:06}", 200_000 + n),
            );
            if rng.chance(0.08) {
                c.overlimit_violations_12m = 1 + rng.below(6) as u32;
            }
            if rng.chance(0.05) {
                c.status = CompanyStatus::Suspended;
            }
            if rng.chance(0.10)
                && let Some(t) = &mut c.transport_license
            {
                t.scope.truncate(1);
            }
            self.companies.push(c);
            for k in 0..1 + rng.below(3) {
                let serial = 10_000 + n as u64 * 10 + k;
                let mut tractor = vehicle(
                    &format!("{plate_prefix}{serial:05}"),
                    vin(10_000 + serial * 2),
                    VehicleKind::Tractor,
                    &uscc,
                );
                let mut trailer = vehicle(
                    &format!("{plate_prefix}{:04}挂", serial % 10_000),
                    vin(10_001 + serial * 2),
                    VehicleKind::Trailer,
                    &uscc,
                );
                trailer.axles = 2 + rng.below(3) as u32;
                trailer.curb_mass_kg = 12_000.0 + 1_000.0 * rng.below(8) as f64;
                if rng.chance(0.06) {
                    tractor.inspection_expires = Some(date(2026, 1 + rng.below(10) as u32, 28));
                }
                self.vehicles.push(tractor);
                self.vehicles.push(trailer);
            }
            let agent = with_id_check(&format!("{area}1985{:02}{:02}{:03}", 1 + rng.below(12), 1 + rng.below(28), n));
            self.people.push(good_person(
                agent.clone(),
                &format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN)),
                None,
                "freight_driver",
                1_000 + n,
            ));
            let mut driver = good_person(
                with_id_check(&format!("{area}1979{:02}{:02}{:03}", 1 + rng.below(12), 1 + rng.below(28), n)),
                &format!("{}{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN), rng.pick(&GIVEN)),
                Some(if rng.chance(0.90) { "A2" } else { "B2" }),
                "freight_driver",
                2_000 + n,
            );
            driver.violation_points = rng.below(13) as u32;
            self.people.push(driver);
            self.authorizations.push(AuthorizationRecord {
                reference: format!("AUTH-{area}-{n:04}"),
                agent_id_number: agent,
                carrier_uscc: uscc,
                valid_from: date(2026, 1 + rng.below(6) as u32, 1),
                valid_until: if rng.chance(0.10) { Some(date(2026, 6, 30)) } else { Some(date(2027, 12, 31)) },
            });
        }
    }

    fn readme(&self) -> String {
        let mut s = String::from(
            "# Demo registry\n\nMade by the project (`oscar demo-registry --out registry-demo`, seed \
             20261120): fictitious entities with valid GB 11643 / GB 32100 check digits. Not real \
             people or companies. Generated; do not edit by hand.\n\n\
             Named entities used by the golden cases in `tests/cases/`:\n\n\
             | key | kind | what |\n|---|---|---|\n",
        );
        for (key, kind, what) in &self.scenarios {
            let _ = writeln!(s, "| `{key}` | {kind} | {what} |");
        }
        let _ = writeln!(
            s,
            "\nAround them: {} companies, {} people, {} vehicles and {} authorizations in all, \
             with occasional defects (suspended carriers, missing scope, expired inspections, \
             B2 licences, violation points).",
            self.companies.len(),
            self.people.len(),
            self.vehicles.len(),
            self.authorizations.len()
        );
        s
    }
}

fn jsonl<T: serde::Serialize>(records: &[T]) -> String {
    records.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|line| line + "\n").collect()
}

/// The demo registry's files (four JSONL files in FILES order, then the README).
pub fn generate(seed: u64) -> [String; 5] {
    let mut demo = Demo::default();
    demo.spec_example();
    demo.us_example();
    demo.company_defects();
    demo.vehicle_defects();
    demo.people_defects();
    demo.crowd(&mut SplitMix64::new(seed), 60);
    [jsonl(&demo.companies), jsonl(&demo.people), jsonl(&demo.vehicles), jsonl(&demo.authorizations), demo.readme()]
}

/// Writes the demo registry into `dir`.
pub fn write_demo(dir: &Path, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let names = crate::registry::FILES.iter().copied().chain(["README.md"]);
    for (name, text) in names.zip(generate(seed)) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
