//! One simulated household: its members, the circumstances that the roster
//! records, the ones it does not, and the verified outcome.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

use std::collections::HashMap;

use crate::people::{self, XIAOCHANG_AREA};
use crate::profile::{Composition, Kind, Profile, COMPOSITIONS};

/// Year of the assessment (ages are full years on 30 June).
pub const YEAR: i32 = 2024;

/// Per-capita resources (yuan a year, after rigid spending and shocks)
/// below which a household really needs assistance. The simulator's own
/// truth, deliberately not the model's parameters.
pub const NEED_LINE: f64 = 6200.0;

/// The simulated county's own dibao line (yuan a person a year), with which
/// its past decisions enrolled households: its own, not any model's.
pub const COUNTY_DIBAO_LINE: f64 = 6600.0;

/// Its line for urban households (a town's community, as 城关社区): urban
/// standards run about a third above rural ones in central China; the
/// figure is the simulator's own assumption, not a model's.
pub const COUNTY_DIBAO_LINE_URBAN: f64 = 8800.0;

/// A simulated person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Resident ID number (`person_id`) or household id.
    pub id: String,
    /// The roster column `name`.
    pub name: String,
    /// Sex (`sex` column: M or F).
    pub male: bool,
    /// The roster column `relation`.
    pub relation: &'static str,
    /// The roster column `age`.
    pub age: u32,
    /// The roster column `health`.
    pub health: &'static str,
    /// The roster column `disability_grade`.
    pub disability_grade: u32,
    /// The roster column `disability_new`.
    pub disability_new: bool,
    /// The roster column `labour`.
    pub labour: &'static str,
    /// The roster column `employment`.
    pub employment: &'static str,
    /// The roster column `lost_job`.
    pub lost_job: bool,
    /// The roster column `school`.
    pub school: &'static str,
    /// The roster column `dropout_risk`.
    pub dropout_risk: bool,
    /// The roster column `oop_medical`.
    pub oop_medical: f64,
    /// The roster column `medical_insurance`.
    pub medical_insurance: bool,
    /// The roster column `public_payroll`.
    pub public_payroll: bool,
    /// The roster column `no_guardian`.
    pub no_guardian: bool,
    /// The roster column `needs_care`.
    pub needs_care: bool,
}

/// A simulated household, with its truth.
#[derive(Debug, Clone)]
pub struct Home {
    /// Resident ID number (`person_id`) or household id.
    pub id: String,
    /// The roster column `village`.
    pub village: String,
    /// The roster column `class`.
    pub class: &'static str,
    /// The roster column `annual_net_income`.
    pub annual_net_income: f64,
    /// The roster column `prev_year_net_income`.
    pub prev_year_net_income: Option<f64>,
    /// The roster column `deposits`.
    pub deposits: f64,
    /// The roster column `cars`.
    pub cars: u32,
    /// The roster column `commercial_property`.
    pub commercial_property: bool,
    /// The roster column `urban_house`.
    pub urban_house: bool,
    /// The roster column `urban`: judged against the urban dibao standard.
    pub urban: bool,
    /// The roster column `registered_business`.
    pub registered_business: bool,
    /// The roster column `housing_fund`.
    pub housing_fund: bool,
    /// The roster column `house_safety`.
    pub house_safety: &'static str,
    /// The roster column `water_safe`.
    pub water_safe: bool,
    /// The roster column `disaster_loss`.
    pub disaster_loss: f64,
    /// The roster column `accident`.
    pub accident: bool,
    /// The roster column `business_failed`.
    pub business_failed: bool,
    /// The roster column `education_spending`.
    pub education_spending: f64,
    /// The roster column `care_spending`.
    pub care_spending: f64,
    /// The roster column `rigid_debt`.
    pub rigid_debt: f64,
    /// The roster column `single_parent`.
    pub single_parent: bool,
    /// The roster column `dibao_exit_date`.
    pub dibao_exit_date: Option<String>,
    /// The co-resident members.
    pub members: Vec<Person>,
    /// Whether the household really needs assistance (never written).
    pub need: bool,
    /// What verification found: the outcome written to outcomes.csv.
    pub verified_need: bool,
    /// Kinds of assistance given, when verified in need.
    pub assistance: Vec<&'static str>,
}

fn pick<const N: usize>(rng: &mut impl Rng, weights: &[f64; N]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    N - 1
}

fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.max(1e-9).ln(), sigma).map_or(median, |d| d.sample(rng))
}

fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p.clamp(0.0, 1.0)
}

fn round_to(value: f64, step: f64) -> f64 {
    (value / step).round() * step
}

struct Draft {
    relation: &'static str,
    age: u32,
    male: bool,
    /// Forced severe disability (the disabled adult child).
    disabled: bool,
}

fn ages(rng: &mut impl Rng, composition: Composition) -> Vec<Draft> {
    let mut out = Vec::new();
    let mut add = |relation, age: u32, male, disabled| out.push(Draft { relation, age, male, disabled });
    let elder =
        |rng: &mut dyn rand::RngCore, lo: u32| lo + (rng.random::<f64>().powf(1.3) * (93 - lo) as f64) as u32;
    match composition {
        Composition::ElderAlone => {
            let age = elder(rng, 60);
            add("head", age, rng.random::<f64>() < 0.42, false);
        }
        Composition::ElderCouple => {
            let a = elder(rng, 60);
            add("head", a, true, false);
            add("spouse", (a as i32 + rng.random_range(-4..3)).clamp(60, 98) as u32, false, false);
        }
        Composition::Family | Composition::ThreeGenerations | Composition::SingleParent => {
            let parent = rng.random_range(26..50);
            let male_head = composition != Composition::SingleParent || rng.random::<f64>() < 0.3;
            add("head", parent, male_head, false);
            if composition != Composition::SingleParent {
                add(
                    "spouse",
                    (parent as i32 + rng.random_range(-3..4)).clamp(22, 60) as u32,
                    !male_head,
                    false,
                );
            }
            let kids = 1 + pick(rng, &[0.55, 0.38, 0.07]);
            for _ in 0..kids {
                let age = rng.random_range(0..(parent - 19).min(23));
                add("child", age, rng.random::<f64>() < 0.52, false);
            }
            if composition == Composition::ThreeGenerations {
                let g = (parent + rng.random_range(22..32)).min(95);
                add("parent", g, rng.random::<f64>() < 0.45, false);
                if rng.random::<f64>() < 0.55 {
                    add(
                        "parent",
                        (g as i32 + rng.random_range(-3..4)).clamp(50, 98) as u32,
                        rng.random::<f64>() < 0.5,
                        false,
                    );
                }
            }
        }
        Composition::LeftBehind => {
            let g = rng.random_range(55..82);
            add("head", g, true, false);
            if rng.random::<f64>() < 0.7 {
                add("spouse", (g as i32 + rng.random_range(-4..3)).clamp(50, 95) as u32, false, false);
            }
            for _ in 0..1 + pick(rng, &[0.5, 0.4, 0.1]) {
                add("grandchild", rng.random_range(1..16), rng.random::<f64>() < 0.52, false);
            }
        }
        Composition::DisabledAdultChild => {
            let p = rng.random_range(45..68);
            add("head", p, true, false);
            add("spouse", (p as i32 + rng.random_range(-3..3)) as u32, false, false);
            add("child", rng.random_range(18..(p - 18).max(19)), rng.random::<f64>() < 0.55, true);
        }
        Composition::SingleAdult => {
            add("head", rng.random_range(25..60), rng.random::<f64>() < 0.7, false);
        }
    }
    out
}

/// Simulates household number `index` of a village.
/// Simulates household number `index` of a village, its need line scaled
/// by `need_scale` (1 for [`NEED_LINE`]; see `Options::base_rate`).
pub fn simulate(
    rng: &mut impl Rng,
    profile: &Profile,
    index: usize,
    ids: &mut IdAllocator,
    need_scale: f64,
) -> Home {
    let composition = COMPOSITIONS[pick(rng, &profile.compositions)];
    let surname = people::surname(rng);
    let left_behind = composition == Composition::LeftBehind;
    let relocation = profile.kind == Kind::Relocation;

    let mut members = Vec::new();
    for d in ages(rng, composition) {
        members.push(person(rng, profile, d, surname, left_behind, ids));
    }
    // the village's shock: its factory closed
    if profile.shock == crate::profile::Shock::FactoryClosing {
        for p in &mut members {
            if matches!(p.employment, "stable" | "flexible") && chance(rng, 0.3) {
                p.lost_job = true;
            }
        }
    }

    // Earnings: recorded income, and what the roster does not see.
    let mut reported = lognormal(rng, profile.farm_income, 0.6);
    let mut hidden = 0.0;
    let mut business_failed = false;
    for p in &members {
        let base = match p.employment {
            "stable" => lognormal(rng, 38_000.0 * profile.wage, 0.3),
            "flexible" => lognormal(rng, 14_000.0 * profile.wage, 0.45),
            "migrant_unstable" => lognormal(rng, 15_000.0 * profile.wage, 0.6),
            _ => 0.0,
        };
        let base = if p.labour == "weak" { base * 0.6 } else { base };
        let base = if p.lost_job { base * rng.random_range(0.2..0.6) } else { base };
        if p.employment == "migrant_unstable" {
            // Part of migrant pay is never reported.
            let share = rng.random_range(0.0..0.45);
            hidden += base * share;
            reported += base * (1.0 - share);
        } else {
            reported += base;
        }
        if p.age >= 60 {
            // Basic pension of rural residents, about 150 yuan a month.
            reported +=
                if chance(rng, 0.08 * profile.assets) { lognormal(rng, 24_000.0, 0.3) } else { 1_800.0 };
        }
    }
    if chance(rng, if profile.kind == Kind::Plains { 0.06 } else { 0.035 }) {
        business_failed = true;
        reported -= lognormal(rng, 6_000.0, 0.8);
    }
    // Kin outside the household: remittances, help in kind.
    let elders_or_children =
        matches!(composition, Composition::ElderAlone | Composition::ElderCouple | Composition::LeftBehind);
    let family_support = if chance(rng, if elders_or_children { 0.65 } else { 0.3 }) {
        lognormal(rng, profile.family_support * if left_behind { 2.0 } else { 1.0 }, 0.7)
    } else {
        0.0
    };
    // what the household declares is noisy: forgotten sideline income,
    // rounding, the odd exaggeration
    let declared = reported * lognormal(rng, 1.0, 0.2);
    let mut income = round_to(declared + Normal::new(0.0, 800.0).map_or(0.0, |n| n.sample(rng)), 10.0);

    // Assets: rise with income.
    let size = members.len() as f64;
    let pc = income / size;
    let affluence = ((pc - 9_000.0) / 9_000.0).clamp(-1.0, 4.0);
    let deposits = if chance(rng, 0.55 + 0.1 * affluence) {
        round_to(lognormal(rng, 6_000.0 * profile.assets * (1.0 + affluence.max(0.0)), 1.0), 100.0)
    } else {
        0.0
    };
    let cars = u32::from(chance(rng, (0.04 + 0.08 * affluence) * profile.assets));
    let commercial_property = chance(rng, (0.005 + 0.02 * affluence.max(0.0)) * profile.assets);
    let urban_house = chance(rng, (0.02 + 0.05 * affluence.max(0.0)) * profile.assets);
    let registered_business = chance(rng, (0.015 + 0.04 * affluence.max(0.0)) * profile.assets);
    let housing_fund = members.iter().any(|p| p.employment == "stable" && chance(rng, 0.35));

    // Spending and shocks.
    let education_spending: f64 = members
        .iter()
        .map(|p| match p.school {
            "preschool" => lognormal(rng, 2_400.0, 0.3),
            "compulsory" => lognormal(rng, 900.0, 0.4),
            "high_school" => lognormal(rng, 5_500.0, 0.3),
            "vocational" => lognormal(rng, 3_500.0, 0.3),
            "college" => lognormal(rng, 13_000.0, 0.25),
            _ => 0.0,
        })
        .sum();
    let education_spending = round_to(education_spending, 10.0);
    let care_spending =
        round_to(members.iter().filter(|p| p.needs_care).map(|_| lognormal(rng, 4_000.0, 0.5)).sum(), 10.0);
    let oop: f64 = members.iter().map(|p| p.oop_medical).sum();
    let flooded = profile.shock == crate::profile::Shock::Flood && chance(rng, 0.25);
    let disaster_loss = if flooded || chance(rng, profile.disaster) {
        round_to(lognormal(rng, 7_000.0, 1.0), 100.0)
    } else {
        0.0
    };
    let accident = chance(rng, 0.03);
    let accident_cost = if accident { lognormal(rng, 15_000.0, 0.8) } else { 0.0 };
    let rigid_debt = if oop > 15_000.0 && chance(rng, 0.6) {
        round_to(lognormal(rng, oop * 1.2, 0.5), 100.0)
    } else if education_spending > 10_000.0 && chance(rng, 0.3) {
        round_to(lognormal(rng, 16_000.0, 0.5), 100.0)
    } else {
        0.0
    };

    // Last year's income: a drift, and a fall after a shock this year.
    let shock = business_failed || members.iter().any(|p| p.lost_job) || disaster_loss > 5_000.0;
    let growth: f64 = if shock {
        rng.random_range(-0.6..-0.15)
    } else {
        Normal::new(0.05, 0.12).map_or(0.0, |n| n.sample(rng))
    };
    let prev_year_net_income =
        if chance(rng, 0.06) { None } else { Some(round_to(income / (1.0 + growth).max(0.2), 10.0)) };

    let house_safety = ["A", "B", "C", "D"][pick(rng, &profile.houses)];
    let water_safe = !chance(rng, profile.unsafe_water);
    let single_parent = composition == Composition::SingleParent;

    // Registered class: set by the county's past decisions on income as it
    // saw it then (last year's, misjudged), with its own line, and taken
    // up by some of those entitled only.
    let seen_pc = prev_year_net_income.unwrap_or(income).max(0.0) / size * lognormal(rng, 1.0, 0.25);
    let nobody_works = members.iter().all(|p| p.labour == "none" || p.age >= 60 || p.age < 16);
    // an urban household is judged against the urban line
    let line = if profile.urban { COUNTY_DIBAO_LINE_URBAN } else { COUNTY_DIBAO_LINE };
    let class = if seen_pc < line && chance(rng, 0.75) {
        if nobody_works && size <= 2.0 && chance(rng, 0.2) {
            "tekun"
        } else {
            "dibao"
        }
    } else if seen_pc < 1.5 * line && chance(rng, 0.45) {
        "dibao_edge"
    } else if oop + education_spending > 0.6 * income.max(0.0) && chance(rng, 0.4) {
        "rigid_expense"
    } else if chance(rng, 0.45) {
        "monitored"
    } else if chance(rng, 0.25) {
        "other_hardship"
    } else {
        "none"
    };
    // Dibao pays the gap to the line; 特困 support is a fixed sum: both are
    // income the household declares.
    let support = match class {
        "dibao" => round_to((line * size - income).max(0.0) * rng.random_range(0.7..1.0), 10.0),
        "tekun" => round_to(1.3 * line * size, 10.0),
        _ => 0.0,
    };
    income += support;

    // The truth: resources per person after rigid spending and shocks,
    // counting what the roster does not see (unreported pay, kin, an
    // illness nobody recorded), against a line blurred by luck.
    let unrecorded_illness = if chance(rng, 0.04) { lognormal(rng, 6_000.0, 0.7) } else { 0.0 };
    let liquid = 0.08 * deposits;
    let resources = income + hidden + family_support + liquid
        - 0.8 * (oop + unrecorded_illness)
        - 0.6 * education_spending
        - care_spending
        - 0.5 * disaster_loss
        - accident_cost
        - if house_safety == "D" { 4_000.0 } else { 0.0 };
    let equivalent = 1.0 + 0.7 * (size - 1.0); // economies of scale in a household
    let luck = lognormal(rng, 1.0, 0.3);
    let line = NEED_LINE * need_scale;
    let per = resources / equivalent * luck;
    // Need by department, from circumstances (seen and unseen), each only
    // where the household is short of money too: a cost it cannot carry.
    let short = per < 1.6 * line;
    let medical = short && (oop + unrecorded_illness > 0.35 * (income + hidden + family_support).max(1.0));
    let education = short
        && members.iter().any(|p| p.dropout_risk || p.school == "college")
        && education_spending > 0.2 * (income + hidden).max(1.0);
    let employment =
        short && members.iter().any(|p| p.lost_job || (p.labour == "normal" && p.employment == "unemployed"));
    let temporary = short && (disaster_loss > 5_000.0 || accident || business_failed) && liquid < 800.0;
    let charity = short
        && (members.iter().any(|p| p.no_guardian)
            || (members.iter().any(|p| p.needs_care) && family_support == 0.0));
    let poor = per < line;
    let need = poor || medical || education || employment || temporary || charity;

    // Verification: departments miss some needs and accept some claims.
    let verified_need = if need { chance(rng, 0.9) } else { chance(rng, 0.06) };
    let mut assistance = Vec::new();
    if verified_need {
        for (on, kind) in [
            (medical, "medical"),
            (education, "education"),
            (employment, "employment"),
            (temporary, "temporary"),
            (charity, "charity"),
        ] {
            if on {
                assistance.push(kind);
            }
        }
        if assistance.is_empty() {
            // short of money alone: the allowance, or a one-off grant
            assistance.push(if poor && class != "dibao" && class != "tekun" { "dibao" } else { "temporary" });
        }
    }
    let dibao_exit_date = if class != "dibao" && chance(rng, 0.07) {
        let days_back = rng.random_range(10..700);
        Some(date_before_assessment(days_back))
    } else {
        None
    };

    Home {
        id: format!("{}{:06}", profile.code, index + 1),
        village: profile.name.clone(),
        class,
        annual_net_income: income,
        prev_year_net_income,
        deposits,
        cars,
        commercial_property,
        urban_house,
        urban: profile.urban,
        registered_business,
        housing_fund,
        house_safety: if relocation {
            ["A", "B", "A", "A"][pick(rng, &[0.9, 0.1, 0.0, 0.0])]
        } else {
            house_safety
        },
        water_safe,
        disaster_loss,
        accident,
        business_failed,
        education_spending,
        care_spending,
        rigid_debt,
        single_parent,
        dibao_exit_date,
        members,
        need,
        verified_need,
        assistance,
    }
}

fn date_before_assessment(days_back: i32) -> String {
    // 2024-06-30 is day 19904 since 1970-01-01.
    hhrisk_tables::date::format_date(19_904 - days_back)
}

fn person(
    rng: &mut impl Rng,
    profile: &Profile,
    d: Draft,
    surname: &str,
    left_behind: bool,
    ids: &mut IdAllocator,
) -> Person {
    let age = d.age;
    let ill = profile.illness;
    let (p_chronic, p_major) = match age {
        0..=17 => (0.02, 0.008),
        18..=44 => (0.07, 0.02),
        45..=59 => (0.17, 0.04),
        60..=74 => (0.36, 0.07),
        _ => (0.45, 0.10),
    };
    let u = rng.random::<f64>();
    let health = if u < p_major * ill {
        "major_illness"
    } else if u < (p_major + p_chronic) * ill {
        "chronic"
    } else {
        "healthy"
    };
    let p_disabled = match age {
        0..=17 => 0.02,
        18..=59 => 0.045,
        _ => 0.09,
    } * ill;
    let disability_grade = if d.disabled {
        1 + u32::from(chance(rng, 0.5))
    } else if chance(rng, p_disabled) {
        1 + pick(rng, &[0.14, 0.24, 0.3, 0.32]) as u32
    } else {
        0
    };
    let disability_new = disability_grade > 0 && chance(rng, 0.12);
    let school = match age {
        3..=5 if chance(rng, 0.85) => "preschool",
        6..=14 => "compulsory",
        15..=17 => ["high_school", "vocational", "none"][pick(rng, &[0.55, 0.32, 0.13])],
        18..=22 if chance(rng, 0.38) => "college",
        _ => "none",
    };
    let severe = disability_grade == 1 || disability_grade == 2;
    let labour = if age < 16 || school != "none" || age >= 75 || severe || health == "major_illness" {
        "none"
    } else if age >= 65 || health == "chronic" || disability_grade >= 3 {
        if chance(rng, 0.7) {
            "weak"
        } else {
            "none"
        }
    } else {
        "normal"
    };
    let employment = if labour == "none" {
        "none"
    } else if age >= 60 || labour == "weak" {
        if chance(rng, 0.6) {
            "flexible"
        } else {
            "none"
        }
    } else {
        ["stable", "flexible", "migrant_unstable", "unemployed"][pick(rng, &profile.work)]
    };
    let lost_job = matches!(employment, "stable" | "flexible" | "migrant_unstable" | "unemployed")
        && chance(rng, if employment == "unemployed" { 0.35 } else { 0.05 });
    let dropout_risk = matches!(school, "compulsory" | "high_school" | "vocational")
        && chance(rng, if left_behind { 0.06 } else { 0.02 });
    let oop_medical = round_to(
        match health {
            "major_illness" => lognormal(rng, 16_000.0, 0.7),
            "chronic" => lognormal(rng, 2_800.0, 0.7),
            _ if chance(rng, 0.35) => lognormal(rng, 600.0, 0.8),
            _ => 0.0,
        } + if severe { lognormal(rng, 1_500.0, 0.6) } else { 0.0 },
        10.0,
    );
    let needs_care = (severe && chance(rng, 0.55)) || (age >= 80 && health != "healthy" && chance(rng, 0.4));
    // 事实无人抚养: both parents dead, missing, imprisoned, severely ill or
    // disabled; rare even among left-behind children
    let no_guardian = left_behind && age < 16 && chance(rng, 0.02);
    let public_payroll = (18..60).contains(&age) && labour == "normal" && chance(rng, 0.008 * profile.assets);

    let month = rng.random_range(1..=12u32);
    let day = rng.random_range(1..=28u32);
    let year = YEAR - age as i32 - i32::from((month, day) > (6, 30));
    let male = d.male;
    Person {
        id: ids.next(year, month, day, male),
        name: people::name(rng, surname, male),
        male,
        relation: d.relation,
        age,
        health,
        disability_grade,
        disability_new,
        labour,
        employment,
        lost_job,
        school,
        dropout_risk,
        oop_medical,
        medical_insurance: !chance(rng, 0.03),
        public_payroll,
        no_guardian,
        needs_care,
    }
}

/// Area codes used once Xiaochang's run out for a birth date: the other
/// counties of Xiaogan prefecture.
const MORE_AREAS: [&str; 6] = ["420902", "420922", "420923", "420981", "420982", "420984"];

/// Hands out resident ID numbers that are unique within a run: the 3-digit
/// sequence counts up per birth date and sex, as a registry does, and moves
/// to a neighbouring county's area code when a date's 500 numbers are used.
#[derive(Debug, Default)]
pub struct IdAllocator {
    used: HashMap<(i32, u32, u32, bool), u32>,
}

impl IdAllocator {
    /// The next free ID number for a birth date and sex.
    pub fn next(&mut self, year: i32, month: u32, day: u32, male: bool) -> String {
        let n = self.used.entry((year, month, day, male)).or_default();
        let (block, seq) = (*n / 500, *n % 500);
        *n += 1;
        let area = match block as usize {
            0 => XIAOCHANG_AREA.to_string(),
            b if b <= MORE_AREAS.len() => MORE_AREAS[b - 1].to_string(),
            // Beyond Xiaogan's counties: unassigned codes of the prefecture.
            b => format!("4209{:02}", 30 + (b - MORE_AREAS.len()) % 70),
        };
        people::resident_id(&area, year, month, day, seq, male)
    }
}
