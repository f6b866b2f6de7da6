//! Three months of a county's loop, checked by hand: batches that alert a
//! household again, answers on time and late, an answer for a household
//! never sent, cases closing when every department has answered and a
//! household alerted again after its case closed.

use hhrisk_ledger::{Answer, Batch, CaseAlert, CaseFilter, Event, Ledger};

fn alert(id: &str, departments: &[(&str, u32)]) -> CaseAlert {
    CaseAlert {
        household_id: id.into(),
        village: "东山村".into(),
        kinds: vec!["risk".into()],
        level: "red".into(),
        score: "30".into(),
        items: vec!["I01".into()],
        departments: departments.iter().map(|(d, n)| (d.to_string(), *n)).collect(),
    }
}

fn batch(name: &str, alerts: Vec<CaseAlert>) -> Batch {
    Batch { name: name.into(), model: ("m".into(), "2".into(), "abc".into()), thresholds: None, alerts }
}

fn on(date: &str) -> Event {
    Event { command: "test".into(), inputs: vec![], date: date.into() }
}

fn answer(id: &str, department: &str, date: &str, need: bool, assistance: &[&str]) -> Answer {
    Answer {
        household_id: id.into(),
        department: department.into(),
        date: date.into(),
        verified_need: need,
        assistance: assistance.iter().map(|s| s.to_string()).collect(),
        amount: None,
        note: String::new(),
        origin: format!("{department}.csv"),
    }
}

#[test]
fn three_months_of_alerts_answers_and_closings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hhrisk.db");
    let mut l = Ledger::open(&path).unwrap();

    // July: H1 to civil affairs (15 days) and education (30), H2 to jobs
    let r = l
        .record_batch(
            &batch(
                "2024-07",
                vec![alert("H1", &[("civil_affairs", 15), ("education", 30)]), alert("H2", &[("jobs", 15)])],
            ),
            &on("2024-07-05"),
        )
        .unwrap();
    assert_eq!((r.opened, r.updated), (vec!["H1".to_string(), "H2".into()], vec![]));
    // a batch name is used once
    assert!(l.record_batch(&batch("2024-07", vec![]), &on("2024-07-06")).is_err());

    // civil affairs answers H1 on time; an answer for H9, never sent
    let a = l
        .record_answers(
            &[
                answer("H1", "civil_affairs", "2024-07-15", true, &["dibao"]),
                answer("H9", "jobs", "2024-07-15", true, &[]),
            ],
            &on("2024-07-16"),
        )
        .unwrap();
    assert_eq!((a.recorded, a.late, a.closed.len()), (1, 0, 0));
    assert_eq!(a.refused.len(), 1);
    assert!(a.refused[0].message.contains("H9 has no open case"), "{}", a.refused[0].message);

    // August: H1 again (civil affairs again, and medical security), H3 new
    let r = l
        .record_batch(
            &batch(
                "2024-08",
                vec![
                    alert("H1", &[("civil_affairs", 15), ("medical_security", 15)]),
                    alert("H3", &[("housing", 30)]),
                ],
            ),
            &on("2024-08-05"),
        )
        .unwrap();
    assert_eq!((r.opened, r.updated), (vec!["H3".to_string()], vec!["H1".to_string()]));

    // as of 10 August: H2's jobs referral was due 20 July (21 days over),
    // H1's education due 4 August (6 days over); H3 not yet due
    let overdue = l.cases(&CaseFilter { overdue: true, ..CaseFilter::default() }, "2024-08-10").unwrap();
    let days: Vec<(&str, i64)> = overdue.iter().map(|c| (c.household_id.as_str(), c.days_overdue)).collect();
    assert_eq!(days, [("H2", 21), ("H1", 6)]);
    let h1 = &overdue[1];
    assert_eq!((h1.owner.as_str(), h1.alerts, h1.batch.as_str()), ("civil_affairs", 2, "2024-07"));
    let depts: Vec<(&str, &str, i64)> =
        h1.departments.iter().map(|r| (r.department.as_str(), r.due.as_str(), r.days_overdue)).collect();
    assert_eq!(
        depts,
        [
            ("civil_affairs", "2024-07-20", 0),
            ("education", "2024-08-04", 6),
            ("medical_security", "2024-08-20", 0)
        ]
    );
    // filters: by department, by batch
    let jobs = l
        .cases(&CaseFilter { department: Some("jobs".into()), ..CaseFilter::default() }, "2024-08-10")
        .unwrap();
    assert_eq!(jobs.iter().map(|c| c.household_id.as_str()).collect::<Vec<_>>(), ["H2"]);
    let july = l
        .cases(&CaseFilter { batch: Some("2024-08".into()), ..CaseFilter::default() }, "2024-08-10")
        .unwrap();
    assert_eq!(july.len(), 2, "H1 and H3 were alerted in August");

    // late answers close H1 (every department answered) and H2
    let a = l
        .record_answers(
            &[
                answer("H1", "education", "2024-08-25", false, &[]),
                answer("H1", "medical_security", "2024-08-18", true, &["medical"]),
                answer("H2", "jobs", "2024-08-25", true, &["employment"]),
            ],
            &on("2024-08-25"),
        )
        .unwrap();
    assert_eq!((a.recorded, a.late), (3, 2), "education and jobs past their due dates");
    assert_eq!(a.closed, ["H1", "H2"]);
    let open = l.cases(&CaseFilter::default(), "2024-08-25").unwrap();
    assert_eq!(open.iter().map(|c| c.household_id.as_str()).collect::<Vec<_>>(), ["H3"]);

    // September: H1 alerted again opens a new case; H3 closed by hand
    let r = l
        .record_batch(&batch("2024-09", vec![alert("H1", &[("civil_affairs", 15)])]), &on("2024-09-05"))
        .unwrap();
    assert_eq!(r.opened, ["H1"]);
    l.close("H3", "moved out of the county", &on("2024-09-06")).unwrap();
    assert!(l.close("H3", "again", &on("2024-09-06")).is_err(), "no open case left");
    let all = l.cases(&CaseFilter { all: true, ..CaseFilter::default() }, "2024-09-06").unwrap();
    assert_eq!(all.len(), 4, "H1 twice, H2, H3");

    // H1's chain across its two cases and three batches
    let chain = l.chain("H1").unwrap();
    let steps: Vec<(&str, &str)> = chain.iter().map(|e| (e.date.as_str(), e.what.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("2024-07-05", "alert"),
            ("2024-07-05", "referral"),
            ("2024-07-05", "referral"),
            ("2024-07-15", "answer"),
            ("2024-08-05", "alert"),
            ("2024-08-05", "referral"),
            ("2024-08-18", "answer"),
            ("2024-08-25", "answer"),
            ("2024-08-25", "closed"),
            ("2024-09-05", "alert"),
            ("2024-09-05", "referral"),
        ]
    );
    assert!(chain[7].detail.contains("education: not in need, late"), "{}", chain[7].detail);

    // reopened, the ledger is the same
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.cases(&CaseFilter::default(), "2024-09-06").unwrap().len(), 1);
}

/// A batch that fails half-way leaves the ledger as it was.
#[test]
fn a_failed_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("l.db")).unwrap();
    l.record_batch(&batch("b1", vec![alert("H1", &[("jobs", 15)])]), &on("2024-07-05")).unwrap();
    // an input file that cannot be hashed fails the event, before anything
    let missing = Event { inputs: vec![dir.path().join("nowhere.csv")], ..on("2024-07-06") };
    assert!(l.record_batch(&batch("b2", vec![alert("H2", &[("jobs", 15)])]), &missing).is_err());
    // a date that is no date is refused before anything is written
    assert!(l.record_batch(&batch("b3", vec![alert("H3", &[("jobs", 15)])]), &on("July")).is_err());
    let cases = l.cases(&CaseFilter { all: true, ..CaseFilter::default() }, "2024-07-10").unwrap();
    assert_eq!(cases.iter().map(|c| c.household_id.as_str()).collect::<Vec<_>>(), ["H1"]);
    // and the names are free to use
    l.record_batch(&batch("b2", vec![alert("H2", &[("jobs", 15)])]), &on("2024-07-06")).unwrap();
}

/// `figures`: by batch, quarter, department and village, by hand on two
/// batches.
#[test]
fn figures_by_batch_quarter_department_and_village() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("l.db")).unwrap();
    l.record_batch(
        &batch(
            "b1",
            vec![alert("H1", &[("civil_affairs", 10), ("education", 10)]), alert("H2", &[("jobs", 10)])],
        ),
        &on("2024-03-01"),
    )
    .unwrap();
    // H1: civil affairs in need, gave dibao and temporary, 600 yuan, on
    // day 5; education not in need, late (day 12). H2 unanswered.
    let mut a = answer("H1", "civil_affairs", "2024-03-06", true, &["dibao", "temporary"]);
    a.amount = Some(600.0);
    l.record_answers(&[a, answer("H1", "education", "2024-03-13", false, &[])], &on("2024-03-13")).unwrap();
    // April: H3 new, in need (medical), on day 2
    l.record_batch(&batch("b2", vec![alert("H3", &[("medical_security", 10)])]), &on("2024-04-02")).unwrap();
    l.record_answers(
        &[answer("H3", "medical_security", "2024-04-04", true, &["medical"])],
        &on("2024-04-04"),
    )
    .unwrap();

    let by_batch = l.figures(hhrisk_ledger::By::Batch).unwrap();
    let b1 = &by_batch[0];
    assert_eq!(
        (b1.group.as_str(), b1.alerts, b1.verified, b1.in_need, b1.answers, b1.late),
        ("b1", 2, 1, 1, 2, 1)
    );
    assert_eq!(
        b1.assistance.iter().map(|(k, n)| (k.as_str(), *n)).collect::<Vec<_>>(),
        [("dibao", 1), ("temporary", 1)]
    );
    assert_eq!((b1.amount, b1.median_days_to_answer), (600.0, Some(8.5)), "days 5 and 12");
    let q = l.figures(hhrisk_ledger::By::Quarter).unwrap();
    assert_eq!(
        q.iter().map(|g| (g.group.as_str(), g.alerts, g.in_need)).collect::<Vec<_>>(),
        [("2024-Q1", 2, 1), ("2024-Q2", 1, 1)]
    );
    let d = l.figures(hhrisk_ledger::By::Department).unwrap();
    let got: Vec<(&str, u64, u64, u64)> =
        d.iter().map(|g| (g.group.as_str(), g.alerts, g.verified, g.in_need)).collect();
    assert_eq!(
        got,
        [
            ("civil_affairs", 1, 1, 1),
            ("education", 1, 1, 0),
            ("jobs", 1, 0, 0),
            ("medical_security", 1, 1, 1)
        ]
    );
    let v = l.figures(hhrisk_ledger::By::Village).unwrap();
    assert_eq!((v.len(), v[0].alerts, v[0].in_need, v[0].assistance["medical"]), (1, 3, 2, 1));
}

/// A ledger written by an older hhrisk is migrated when opened (version 1
/// had no index of a case's alerts); one written by a newer hhrisk is
/// refused rather than misread.
#[test]
fn older_ledgers_are_migrated_and_newer_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let mut l = Ledger::open(&path).unwrap();
    l.record_batch(&batch("b1", vec![alert("H1", &[("jobs", 15)])]), &on("2024-07-05")).unwrap();
    drop(l);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP INDEX alerts_case; UPDATE meta SET value = '1' WHERE key = 'schema_version';")
        .unwrap();
    drop(conn);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.cases(&CaseFilter::default(), "2024-07-10").unwrap().len(), 1, "the data kept");
    drop(l);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (version, index): (String, i64) = conn
        .query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'schema_version'),
                    (SELECT count(*) FROM sqlite_master WHERE name = 'alerts_case')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((version.as_str(), index), ("2", 1));
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
    drop(conn);
    let err = Ledger::open(&path).err().unwrap().to_string();
    assert!(err.contains("schema version 99 is newer"), "{err}");
}
