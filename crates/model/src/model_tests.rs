use std::collections::HashMap;

use super::*;
use crate::rewrite::{rewrite_model, rewrite_points, Rewrite};
use crate::scoring::Normalise;

const BASE: &str = r#"[model]
name = "t"
version = "1"
source = "test"

[[parameters]]
name = "line"
value = 9048

[[departments]]
id = "civil_affairs"
name = "民政局"

[[columns]]
name = "income"
file = "households"
type = "decimal"
min = 0

[[columns]]
name = "health"
file = "members"
type = "category"
values = ["healthy", "chronic"]

[[categories]]
id = "income"
name = "收入"
weight = 2

[[items]]
id = "I01"
category = "income"
name = "低收入"
when = "per_capita(income) < line"
points = 10
department = "civil_affairs"
"#;

fn problems(text: &str) -> Vec<String> {
    match Model::from_toml(text, "m.toml") {
        Ok(_) => vec![],
        Err(e) => e.problems().iter().map(|p| p.to_string()).collect(),
    }
}

/// The first problem reported contains `want` (later ones may follow
/// from it: an item using a column whose declaration failed).
fn one_problem(text: &str, want: &str) {
    let got = problems(text);
    assert!(got.first().is_some_and(|p| p.contains(want)), "expected a problem with {want:?}, got {got:#?}");
}

#[test]
fn weights_and_bands_are_rewritten_in_place() {
    let text = format!("{BASE}\n[bands]\n[[bands.levels]]\nname = \"red\"\nmin = 12\n");
    let rewrite = Rewrite {
        weights: [("income".to_string(), 1.5)].into(),
        band_mins: [("red".to_string(), 14.5)].into(),
        ..Rewrite::default()
    };
    let out = rewrite_model(&text.replace("weight = 2\n", ""), "m.toml", &rewrite).unwrap();
    let m = Model::from_toml(&out, "m.toml").unwrap();
    assert_eq!((m.categories[0].weight, m.bands.levels[0].min), (1.5, 14.5));
    let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
    assert_eq!(out, text.replace("weight = 2", "weight = 1.5").replace("min = 12", "min = 14.5"));
}

#[test]
fn points_are_rewritten_in_place() {
    let text = BASE.replace("points = 10", "points = 10 # why ten");
    let new: HashMap<String, f64> = [("I01".to_string(), 7.0), ("X".to_string(), 1.0)].into();
    let out = rewrite_points(&text, "m.toml", &new).unwrap();
    assert_eq!(out, text.replace("points = 10 #", "points = 7 #"));
    assert_eq!(Model::from_toml(&out, "m.toml").unwrap().items[0].points, 7.0);
}

#[test]
fn the_scoring_table_is_checked() {
    let m = Model::from_toml(BASE, "m.toml").unwrap();
    assert_eq!(m.scoring, Scoring::default());
    assert!(m.items[0].divide && !m.items[0].off);
    let text = format!("{BASE}divide = false\noff = true\n[scoring]\nnormalise = \"total\"\n");
    let m = Model::from_toml(&text, "m.toml").unwrap();
    assert_eq!(m.scoring.normalise, Normalise::Total);
    assert!(!m.items[0].divide && m.items[0].off);
    one_problem(
        &format!("{BASE}[scoring]\nnormalise = \"per-head\"\n"),
        "m.toml:39:13: scoring: normalise is one of \"per_capita\", \"total\"",
    );
    one_problem(
        &format!("{BASE}[scoring]\nnormalise = \"equivalence\"\n"),
        "the equivalence scale needs ages",
    );
    one_problem(
        &format!("{BASE}[scoring]\nnormalise = \"equivalence\"\nage_column = \"health\"\n"),
        "m.toml:40:14: scoring: \"health\" is not a declared member column of ages",
    );
    let aged = BASE.replace(
        "[[categories]]",
        "[[columns]]\nname = \"age\"\nfile = \"members\"\ntype = \"integer\"\n\n[[categories]]",
    );
    let m = Model::from_toml(
        &format!("{aged}[scoring]\nnormalise = \"equivalence\"\nage_column = \"age\"\n"),
        "m.toml",
    )
    .unwrap();
    assert_eq!((m.scoring.normalise, m.scoring.age_column), (Normalise::Equivalence, Some(2)));
    assert!(m.scoring.stated);
    assert!(!Model::from_toml(BASE, "m.toml").unwrap().scoring.stated);
}

#[test]
fn bands_can_be_taken_out() {
    let text = format!(
        "{BASE}\n[bands]\ntrigger = \"red\"\n\n[[bands.levels]]\nname = \"red\"\nmin = 20\n\n[[bands.levels]]\nname = \"orange\"\nmin = 10\n\n[[bands.levels]]\nname = \"yellow\"\nmin = 5\n"
    );
    assert_eq!(Model::from_toml(&text, "m.toml").unwrap().bands.levels.len(), 3);
    let rewrite = Rewrite {
        drop_bands: vec!["red".into()],
        band_trigger: Some("orange".into()),
        band_mins: [("orange".to_string(), 12.5)].into(),
        ..Rewrite::default()
    };
    let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
    let m = Model::from_toml(&out, "m.toml").unwrap();
    let names: Vec<(&str, f64)> = m.bands.levels.iter().map(|b| (b.name.as_str(), b.min)).collect();
    assert_eq!(names, [("orange", 12.5), ("yellow", 5.0)]);
    assert_eq!(m.bands.trigger, Some(0));
    assert!(!out.contains("\"red\""), "{out}");
    // the last table too
    let rewrite = Rewrite { drop_bands: vec!["yellow".into()], ..Rewrite::default() };
    let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
    assert_eq!(Model::from_toml(&out, "m.toml").unwrap().bands.levels.len(), 2);
}

#[test]
fn fitted_points_switch_items_off_and_set_the_normalisation() {
    let rewrite = Rewrite {
        points: [("I01".to_string(), 0.0)].into(),
        off: vec![("I01".to_string(), "fitted points fell to 0".to_string())],
        normalise: Some(Normalise::SqrtMembers),
        ..Rewrite::default()
    };
    let out = rewrite_model(BASE, "m.toml", &rewrite).unwrap();
    assert!(out.contains("points = 0\noff = true  # fitted points fell to 0\n"), "{out}");
    assert!(out.ends_with("\n[scoring]\nnormalise = \"sqrt_members\"\n"), "{out}");
    let m = Model::from_toml(&out, "m.toml").unwrap();
    assert!(m.items[0].off);
    assert_eq!(m.scoring.normalise, Normalise::SqrtMembers);
    // a second rewrite replaces the normalisation in place
    let again = Rewrite { normalise: Some(Normalise::Total), ..Rewrite::default() };
    let out = rewrite_model(&out, "m.toml", &again).unwrap();
    assert_eq!(Model::from_toml(&out, "m.toml").unwrap().scoring.normalise, Normalise::Total);
    assert_eq!(out.matches("[scoring]").count(), 1);
}

#[test]
fn department_ids_are_safe_file_names() {
    for bad in ["../roster", "a/b", "households.csv", "", ".hidden", "民政", "chain", "Chain"] {
        let text = BASE
            .replace("id = \"civil_affairs\"", &format!("id = \"{bad}\""))
            .replace("department = \"civil_affairs\"", &format!("department = \"{bad}\""));
        one_problem(&text, "department ids are 1 to 64 ASCII letters");
    }
    let text = BASE.replace("civil_affairs", "civil-affairs_2");
    assert!(Model::from_toml(&text, "m.toml").is_ok());
}

#[test]
fn the_base_model_is_valid_and_compiled() {
    let m = Model::from_toml(BASE, "m.toml").unwrap();
    assert_eq!(m.categories[0].weight, 2.0);
    assert_eq!(m.items[0].reads, vec![0]);
    assert_eq!(m.columns[1].slot, 0, "member columns are numbered apart");
    assert_eq!(m.missing_values, DEFAULT_MISSING);
}

#[test]
fn unknown_keys_and_wrong_shapes_are_refused_where_they_are() {
    one_problem(&BASE.replace("points = 10", "pionts = 10"), "m.toml:36:1: unknown field `pionts`");
    one_problem(&BASE.replace("points = 10", "points = \"ten\""), "m.toml:36:10:");
    one_problem(&BASE.replace("version = \"1\"\n", ""), "missing field `version`");
}

#[test]
fn declarations_are_checked() {
    one_problem(
        &BASE.replace("type = \"decimal\"", "type = \"money\""),
        "m.toml:17:8: column income: type is one of",
    );
    one_problem(&BASE.replace("file = \"households\"", "file = \"people\""), "column income: file is");
    one_problem(&BASE.replace("values = [\"healthy\", \"chronic\"]", "values = [\"a\", \"a\"]"), "distinct");
    one_problem(&BASE.replace("name = \"income\"\nfile", "name = \"household_id\"\nfile"), "reserved");
    one_problem(
        &BASE.replace("name = \"line\"", "name = \"income\""),
        "m.toml:15:8: column income: this name is declared twice",
    );
    one_problem(
        &BASE.replace("min = 0", "min = 0\ndefault = -5"),
        "`default`: -5 is outside the allowed range",
    );
    one_problem(&BASE.replace("min = 0", "min = 10\nmax = 5"), "`max` is below `min`");
    one_problem(
        &BASE.replace("category = \"income\"", "category = \"money\""),
        "item I01: category \"money\" is not declared",
    );
    one_problem(
        &BASE.replace("department = \"civil_affairs\"\n", "department = \"roads\"\n"),
        "department \"roads\"",
    );
    one_problem(
        &format!("{BASE}\n{}", &BASE[BASE.find("[[items]]").unwrap()..]),
        "item I01: this item id is used twice",
    );
    one_problem(&BASE.replace("value = 9048", "value = \"9048\""), "parameter line: a parameter is a number");
    one_problem(
        &BASE.replace(
            "version = \"1\"",
            "version = \"1\"\neffective_from = 2025-01-01\neffective_to = 2024-01-01",
        ),
        "`effective_to` is before",
    );
}

#[test]
fn condition_mistakes_point_into_the_condition() {
    // `when = "` is 8 characters: the condition starts in column 9.
    one_problem(
        &BASE.replace("per_capita(income) < line", "per_capita(income) < lin"),
        "m.toml:35:30: item I01: unknown name `lin` (did you mean `line`?)",
    );
    one_problem(
        &BASE.replace("\"per_capita(income) < line\"", "'health == \"chronic\"'"),
        "m.toml:35:9: item I01: `health` is a member column",
    );
    // with per = "member" the same condition is fine
    assert!(problems(&BASE.replace(
        "when = \"per_capita(income) < line\"",
        "per = \"member\"\nwhen = 'health == \"chronic\"'"
    ))
    .is_empty());
}

#[test]
fn a_broken_derived_value_is_reported_once_at_its_definition() {
    let text = BASE
        .replace(
            "[[categories]]",
            "[[derived]]\nname = \"pc\"\nexpr = \"income / members2\"\n\n[[categories]]",
        )
        .replace("per_capita(income) < line", "pc < line");
    let got = problems(&text);
    assert_eq!(got, ["m.toml:28:18: derived pc: unknown name `members2` (did you mean `members`?): declare it as a column, parameter or derived value"]);
}

/// `[[groups]]`: household types with a condition over the household;
/// their mistakes are named like an item's.
#[test]
fn groups_are_household_conditions_checked_like_items() {
    let ok = format!(
        "{BASE}\n[[groups]]\nid = \"chronic\"\nname = \"慢病户\"\nwhen = 'any(health == \"chronic\")'\n\n\
         [[groups]]\nid = \"poor\"\nname = \"低收入户\"\nwhen = \"income < line\"\n"
    );
    let m = Model::from_toml(&ok, "m.toml").unwrap();
    assert_eq!(m.groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["chronic", "poor"]);
    // one household, income 5000, members healthy and chronic
    let x = crate::expr::Inputs { household: &[5000.0], members: &[0.0, 1.0], stride: 1, count: 2 };
    assert!(m.groups.iter().all(|g| g.condition.eval(&x, 0)));
    let x = crate::expr::Inputs { household: &[9048.0], members: &[0.0], stride: 1, count: 1 };
    assert!(m.groups.iter().all(|g| !g.condition.eval(&x, 0)));

    let group =
        |id: &str, when: &str| format!("{BASE}\n[[groups]]\nid = \"{id}\"\nname = \"x\"\nwhen = '{when}'\n");
    one_problem(&group("chronic", "health == \"chronic\""), "group chronic: `health` is a member column");
    one_problem(&group("2x", "income > 0"), "group ids are 1 to 64 ASCII letters");
    one_problem(&group("x", "income"), "a condition must be yes or no");
    one_problem(&group("x", "incme > 0"), "did you mean `income`?");
    let twice = format!(
        "{}\n[[groups]]\nid = \"x\"\nname = \"y\"\nwhen = \"income > 1\"\n",
        group("x", "income > 0")
    );
    one_problem(&twice, "this group id is used twice");
}

/// An optional column needs a default (what rows take when the file lacks
/// it).
#[test]
fn an_optional_column_needs_a_default() {
    let column = |extra: &str| {
        format!("{BASE}\n[[columns]]\nname = \"sex\"\nfile = \"members\"\ntype = \"category\"\nvalues = [\"M\", \"F\"]\n{extra}\n")
    };
    one_problem(&column("optional = true"), "an optional column needs a `default`");
    let m = Model::from_toml(&column("optional = true\ndefault = \"F\""), "m.toml").unwrap();
    let sex = m.columns.iter().find(|c| c.name == "sex").unwrap();
    assert!(sex.optional && sex.default == Some(1.0));
}

#[test]
fn labels_and_value_labels_are_for_people_and_checked() {
    let column = |extra: &str| {
        format!("{BASE}\n[[columns]]\nname = \"sex\"\nfile = \"members\"\ntype = \"category\"\nvalues = [\"M\", \"F\"]\n{extra}\n")
    };
    let m =
        Model::from_toml(&column("label = \"性别\"\nvalue_labels = { M = \"男\", F = \"女\" }"), "m.toml")
            .unwrap();
    let sex = m.columns.iter().find(|c| c.name == "sex").unwrap();
    assert_eq!(sex.label_zh(), "性别");
    // values by their index in `values`: M 0, F 1; an unlabelled value as written
    assert_eq!((sex.format_value_zh(0.0), sex.format_value_zh(1.0)), ("男".to_string(), "女".to_string()));
    let health = m.columns.iter().find(|c| c.name == "health").unwrap();
    assert_eq!((health.label_zh(), health.format_value_zh(1.0)), ("health", "chronic".to_string()));
    one_problem(
        &column("value_labels = { X = \"未知\" }"),
        "names \"X\", which is not one of the column's `values`",
    );
    one_problem(&column("value_labels = { M = \" \" }"), "the label of \"M\" is empty");
    let on_number = BASE
        .replace("type = \"decimal\"\nmin = 0", "type = \"decimal\"\nmin = 0\nvalue_labels = { a = \"b\" }");
    one_problem(&on_number, "`value_labels` is only for category columns");
}
