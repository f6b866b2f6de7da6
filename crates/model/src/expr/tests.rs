//! End-to-end tests of the language: text in, value out, on a hand-made
//! household.

use super::*;

/// Household columns: income (dec, slot 0), car (bool, 1), exit_date (date, 2).
/// Member columns: age (int, 0), health (category, 1), cost (dec, 2).
fn symbols() -> Symbols {
    let mut s = Symbols::default();
    let health = s.add_category("health", vec!["healthy".into(), "chronic".into(), "major".into()]);
    let cols = [
        ("income", Scope::Household, 0, Type::Dec),
        ("car", Scope::Household, 1, Type::Bool),
        ("exit_date", Scope::Household, 2, Type::Date),
        ("age", Scope::Member, 0, Type::Int),
        ("health", Scope::Member, 1, Type::Cat(health)),
        ("cost", Scope::Member, 2, Type::Dec),
    ];
    for (name, scope, slot, ty) in cols {
        assert!(s.define(name, Symbol::Column { scope, slot, ty }));
    }
    s.define("line", Symbol::Param { value: 9048.0, ty: Type::Int });
    s.define("zero", Symbol::Param { value: 0.0, ty: Type::Int });
    s.define(
        "as_of",
        Symbol::Param {
            value: f64::from(hhrisk_tables::date::parse_date("2024-06-30").unwrap()),
            ty: Type::Date,
        },
    );
    s
}

/// Three members: 67 chronic 1200, 40 healthy 0, 12 major 25000.
/// Income 18000, a car, exited dibao on 2024-01-31.
fn household() -> (Vec<f64>, Vec<f64>) {
    let exit = f64::from(hhrisk_tables::date::parse_date("2024-01-31").unwrap());
    (vec![18000.0, 1.0, exit], vec![67.0, 1.0, 1200.0, 40.0, 0.0, 0.0, 12.0, 2.0, 25000.0])
}

/// The hand-made household, then a one-member household after it, as a
/// batch: the batch evaluator must keep the two apart.
fn batch(h: &[f64], m: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut households = h.to_vec();
    households.extend([0.0, 0.0, 0.0]);
    let mut members = m.to_vec();
    members.extend([90.0, 2.0, 30000.0]);
    (households, members)
}

fn columns<'a>(households: &'a [f64], members: &'a [f64]) -> Columns<'a> {
    Columns {
        household: households,
        household_stride: 3,
        members,
        member_stride: 3,
        starts: &[0, 3, 4],
        owner: &[0, 0, 0, 1],
    }
}

fn eval_household(src: &str) -> Result<bool, ExprError> {
    eval_household_with(&symbols(), src)
}

fn matching_members(src: &str) -> Vec<usize> {
    let s = symbols();
    let compiled = Checker::new(&s).condition(&parse(src).unwrap(), Scope::Member).unwrap();
    let (h, m) = household();
    let x = Inputs { household: &h, members: &m, stride: 3, count: 3 };
    let matching: Vec<usize> = (0..3).filter(|&i| compiled.eval(&x, i)).collect();
    let closure = compiled.to_fn();
    assert_eq!((0..3).filter(|&i| closure(&x, i)).collect::<Vec<_>>(), matching, "closure of `{src}`");
    let (hb, mb) = batch(&h, &m);
    let (cols, mut out, mut eval) = (columns(&hb, &mb), Vec::new(), BatchEval::default());
    eval.load(&cols);
    eval.bool(&compiled, &cols, Level::Member, &mut out);
    let second = Inputs { household: &hb[3..], members: &mb[9..], stride: 3, count: 1 };
    let expected: Vec<bool> =
        (0..3).map(|i| compiled.eval(&x, i)).chain([compiled.eval(&second, 0)]).collect();
    assert_eq!(out, expected, "batch of `{src}`");
    matching
}

#[test]
fn a_constant_compared_with_a_column_is_turned_round_exactly() {
    use compiled::CmpOp::*;
    for op in [Eq, Ne, Lt, Le, Gt, Ge] {
        let tree = BoolExpr::Cmp(op, NumExpr::Const(5.0), NumExpr::Col(Src::Household(0)));
        let quick = tree.clone().optimised();
        assert!(matches!(quick, BoolExpr::ColCmp(..)), "{quick:?}");
        for v in [4.0, 5.0, 6.0, f64::NAN, f64::INFINITY, -0.0] {
            let x = Inputs { household: &[v], members: &[], stride: 0, count: 0 };
            assert_eq!(quick.eval(&x, 0), tree.eval(&x, 0), "5 {op:?} {v}");
            assert_eq!(quick.to_fn()(&x, 0), tree.eval(&x, 0), "5 {op:?} {v}");
        }
    }
}

#[test]
fn household_conditions_evaluate_as_worked_by_hand() {
    let cases = [
        // 18000 / 3 = 6000 < 9048
        ("per_capita(income) < line", true),
        ("income / members < line and car", true),
        ("not car", false),
        // ages 67, 40, 12: one is 60+
        ("count(age >= 60) == 1", true),
        ("any(health == \"major\") and all(age < 70)", true),
        ("all(health in ['chronic', 'major'])", false),
        // 1200 + 0 + 25000 = 26200 > 0.5 * 18000
        ("sum(cost) > 0.5 * max(income, 0)", true),
        ("sum(cost) == 26200", true),
        ("max(cost) > 20000 and min(age) == 12", true),
        // (67 + 40 + 12) / 3 = 39.666…
        ("mean(age) > 39.6 and mean(age) < 39.7", true),
        // 2024-01-31 .. 2024-06-30 is 151 days (Python: date(2024,6,30)-date(2024,1,31))
        ("days_between(exit_date, as_of) == 151", true),
        ("exit_date >= \"2024-01-01\" and exit_date < date('2024-02-01')", true),
        ("if(car, 1, 2) * 3 == 3", true),
        ("abs(-5) == 5 and -income < 0", true),
        ("count(health != 'healthy') in [2, 3]", true),
        ("count(health == 'healthy') not in [1]", false),
        ("car == true and (car != false)", true),
        // division by a value that is zero at run time follows IEEE: 1/0 = inf
        ("1 / (income - 18000) > 1000000", true),
    ];
    for (src, want) in cases {
        assert_eq!(eval_household(src).unwrap_or_else(|e| panic!("{src}: {e:?}")), want, "{src}");
    }
}

#[test]
fn member_conditions_count_matching_members() {
    assert_eq!(matching_members("age >= 60"), vec![0]);
    assert_eq!(matching_members("health != 'healthy' or age < 16"), vec![0, 2]);
    // household columns are visible from a member condition: 0.1 * 18000 = 1800
    assert_eq!(matching_members("car and cost > 0.1 * income"), vec![2]);
}

#[test]
fn type_and_name_errors_point_at_the_mistake() {
    let cases: [(&str, std::ops::Range<usize>, &str); 14] = [
        ("income > 1 and ages > 3", 15..19, "unknown name `ages` (did you mean `age`?)"),
        ("age > 60", 0..3, "is a member column"),
        ("any(health == 'sick')", 14..20, "\"sick\" is not a value of column `health`"),
        ("count(age > 1) > 'x'", 0..20, "cannot compare"),
        ("income", 0..6, "must be yes or no"),
        ("car + 1 > 0", 0..3, "needs numbers"),
        ("count(age)", 6..9, "needs yes/no"),
        ("income / zero > 1", 9..13, "division by zero"),
        ("income / (line - line) > 1", 10..21, "division by zero"),
        ("exit_date > 3", 0..13, "cannot compare a date with a whole number"),
        ("exit_date > 'soon'", 12..18, "is not a date"),
        ("sumx(age) > 0", 0..9, "unknown function `sumx` (did you mean `sum`?)"),
        ("any(health > 'chronic')", 4..22, "categories have no order"),
        ("max(1, 2, 3) > 0", 0..12, "max takes 2 argument(s)"),
    ];
    for (src, span, msg) in cases {
        let err = eval_household(src).unwrap_err();
        assert!(err.message.contains(msg), "{src}: {}", err.message);
        assert_eq!(err.span, span, "{src}: {}", err.message);
    }
    let s = symbols();
    let err = Checker::new(&s).condition(&parse("count(age > 1) > 0").unwrap(), Scope::Member).unwrap_err();
    assert!(err.message.contains("cannot be used inside a per-member condition"), "{}", err.message);
}

#[test]
fn derived_values_compile_once_and_cycles_are_refused() {
    let mut s = symbols();
    s.define_derived("pc_income", parse("income / members").unwrap(), Scope::Household);
    s.define_derived("elderly", parse("age >= 60").unwrap(), Scope::Member);
    s.define_derived("a", parse("b + 1").unwrap(), Scope::Household);
    s.define_derived("b", parse("c * 2").unwrap(), Scope::Household);
    s.define_derived("c", parse("a - 1").unwrap(), Scope::Household);
    let checker = Checker::new(&s);
    let cond = checker
        .condition(&parse("pc_income < line and count(elderly) == 1").unwrap(), Scope::Household)
        .unwrap();
    let (h, m) = household();
    assert!(cond.eval(&Inputs { household: &h, members: &m, stride: 3, count: 3 }, 0));

    let err = checker.condition(&parse("a > 0").unwrap(), Scope::Household).unwrap_err();
    assert!(err.message.contains("cycle: a → b → c → a"), "{}", err.message);
    assert_eq!(err.within.as_deref(), Some("c"));
    assert_eq!(err.span, 0..1);

    let err = checker.condition(&parse("elderly").unwrap(), Scope::Household).unwrap_err();
    assert!(err.message.contains("per-member derived value"), "{}", err.message);
}

/// Numbers over a batch are those of the tree, bit for bit: the same
/// operations in the same order (sums member after member), at the
/// household and at the member level.
#[test]
fn numbers_over_a_batch_are_the_trees_to_the_bit() {
    let cases = [
        ("income / members + sum(cost) * 0.35 - min(cost) / 3", Scope::Household),
        ("max(cost) - abs(line - income) / 7", Scope::Household),
        ("count(age >= 60) * 1.1 + if(car, 0.1, 0.7) * members", Scope::Household),
        ("days_between(exit_date, as_of) / 365.25", Scope::Household),
        ("cost / (age - 40) + income * 0.001 - members", Scope::Member),
        ("-cost + income / members + if(car, age, 0.5)", Scope::Member),
    ];
    let (h, m) = household();
    let (hb, mb) = batch(&h, &m);
    let cols = columns(&hb, &mb);
    let x = [
        Inputs { household: &hb[..3], members: &mb[..9], stride: 3, count: 3 },
        Inputs { household: &hb[3..], members: &mb[9..], stride: 3, count: 1 },
    ];
    for (k, (src, scope)) in cases.into_iter().enumerate() {
        let mut s = symbols();
        let name = format!("n{k}");
        assert!(s.define_derived(&name, parse(src).unwrap(), scope));
        let expr = match Checker::new(&s).derived(&name, 0..0) {
            Ok(Typed::Num(expr, _)) => expr,
            other => panic!("`{src}` is a number: {other:?}"),
        };
        let (mut out, mut eval) = (Vec::new(), BatchEval::default());
        eval.load(&cols);
        let (level, expected): (Level, Vec<f64>) = match scope {
            Scope::Household => (Level::Household, x.iter().map(|x| expr.eval(x, 0)).collect()),
            Scope::Member => {
                (Level::Member, (0..3).map(|i| expr.eval(&x[0], i)).chain([expr.eval(&x[1], 0)]).collect())
            }
        };
        eval.num(&expr, &cols, level, &mut out);
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out), bits(&expected), "`{src}`: {out:?} against {expected:?}");
    }
}

#[test]
fn nesting_is_refused_past_its_limit_and_evaluated_up_to_it() {
    let deep = |e: &ExprError| e.message.contains(&format!("nests more than {MAX_DEPTH} levels deep"));
    // at the limit: parsed, checked, compiled and evaluated (tree, closure
    // and batch) on this thread, whose stack is the smallest a test has
    let nots = |n: usize| format!("{}income > 0", "not ".repeat(n));
    let at_limit = MAX_DEPTH as usize - 2; // `income > 0` is two deep
    assert_eq!(eval_household(&nots(at_limit)), Ok(at_limit.is_multiple_of(2)), "income is above 0");
    assert!(deep(&parse(&nots(at_limit + 1)).unwrap_err()));
    let ors = |n: usize| vec!["income > 0"; n].join(" or ");
    assert_eq!(eval_household(&ors(MAX_DEPTH as usize - 1)), Ok(true));
    assert!(deep(&parse(&ors(MAX_DEPTH as usize)).unwrap_err()));
    // far past it: refused where it is, never a stack overflow
    for src in [
        format!("{}income > 0{}", "(".repeat(5000), ")".repeat(5000)),
        nots(10_000),
        ors(50_000),
        format!("{}1 > 0", "-".repeat(10_000)),
        format!("{}1{} > 0", "max(".repeat(5000), ", 1)".repeat(5000)),
    ] {
        let e = parse(&src).unwrap_err();
        assert!(deep(&e), "{}", e.message);
        assert!(e.span.start < src.len());
    }
}

#[test]
fn derived_values_that_would_copy_too_much_or_nest_too_deep_are_refused() {
    let mut s = symbols();
    // each uses the one before twice: 2^k nodes written out
    for k in 0..32 {
        let expr = if k == 0 { "income".to_string() } else { format!("d{} + d{}", k - 1, k - 1) };
        assert!(s.define_derived(&format!("d{k}"), parse(&expr).unwrap(), Scope::Household));
    }
    // each is 150 `not`s over the one before
    for k in 0..5 {
        let expr = if k == 0 { "income > 0".to_string() } else { format!("{}e{}", "not ".repeat(60), k - 1) };
        assert!(s.define_derived(&format!("e{k}"), parse(&expr).unwrap(), Scope::Household));
    }
    let checker = Checker::new(&s);
    // 2^15 + ... nodes: fine; d16 and later: refused at once
    assert!(checker.condition(&parse("d15 > 0").unwrap(), Scope::Household).is_ok());
    let e = checker.condition(&parse("d31 > 0").unwrap(), Scope::Household).unwrap_err();
    assert!(e.message.contains(&format!("more than {MAX_NODES}")), "{}", e.message);
    assert!(checker.derived("d16", 0..3).unwrap_err().message.contains("takes 131071 steps"));
    assert!(checker.condition(&parse("e1").unwrap(), Scope::Household).is_ok());
    let e = checker.condition(&parse("e2").unwrap(), Scope::Household).unwrap_err();
    assert!(e.message.contains(&format!("levels deep, more than {MAX_DEPTH}")), "{}", e.message);
}

/// Distinct nodes of a compiled tree, a shared derived value counted once
/// however many times it is used: what the tree holds in memory.
fn held(e: &BoolExpr, seen: &mut std::collections::HashSet<usize>) -> usize {
    use compiled::NumExpr as N;
    fn num(e: &N, seen: &mut std::collections::HashSet<usize>) -> usize {
        1 + match e {
            N::Const(_) | N::Col(_) | N::Members => 0,
            N::Neg(a) | N::Abs(a) | N::Sum(a) | N::MemberMin(a) | N::MemberMax(a) => num(a, seen),
            N::Arith(_, a, b) | N::Min(a, b) | N::Max(a, b) => num(a, seen) + num(b, seen),
            N::If(c, a, b) => held(c, seen) + num(a, seen) + num(b, seen),
            N::Count(c) => held(c, seen),
            N::Shared(a) => {
                if seen.insert(std::sync::Arc::as_ptr(a) as usize) {
                    num(a, seen)
                } else {
                    0
                }
            }
        }
    }
    1 + match e {
        BoolExpr::Const(_) | BoolExpr::Col(_) | BoolExpr::ColCmp(..) | BoolExpr::OneOf(..) => 0,
        BoolExpr::Not(a) | BoolExpr::Any(a) | BoolExpr::All(a) => held(a, seen),
        BoolExpr::And(a, b) | BoolExpr::Or(a, b) | BoolExpr::Same(a, b, _) => held(a, seen) + held(b, seen),
        BoolExpr::Cmp(_, a, b) => num(a, seen) + num(b, seen),
        BoolExpr::NumIn(a, _) => num(a, seen),
        BoolExpr::Shared(a) => {
            if seen.insert(std::sync::Arc::as_ptr(a) as usize) {
                held(a, seen)
            } else {
                0
            }
        }
    }
}

/// A derived value is compiled once and held once: every use points at
/// the same tree, so derived values that each use the one before twice
/// hold a few nodes each, not a doubling copy (2^15 nodes written out
/// below). The evaluators agree on it.
#[test]
fn derived_values_are_held_once_and_shared_by_every_use() {
    let mut s = symbols();
    for k in 0..13 {
        let expr =
            if k == 0 { "income * 2 - 1".to_string() } else { format!("d{} + d{} * 0.5", k - 1, k - 1) };
        assert!(s.define_derived(&format!("d{k}"), parse(&expr).unwrap(), Scope::Household));
    }
    // per member: a value of 40 nodes over age and cost, used twice
    let big = ["cost * 0.5 + age"; 8].join(" + ");
    assert!(s.define_derived("m", parse(&big).unwrap(), Scope::Member));
    let checker = Checker::new(&s);
    let src = "d12 > d11 and count(m > 100 and m < 10000000) > 0";
    let ast = parse(src).unwrap();
    let compiled = checker.condition(&ast, Scope::Household).unwrap();
    assert!(checker.steps(&ast) > 40_000, "{} steps written out", checker.steps(&ast));
    let nodes = held(&compiled, &mut Default::default());
    assert!(nodes < 200, "{nodes} nodes held for {} steps", checker.steps(&ast));
    // the two uses of d11 inside d12, and d11 itself, are one tree
    let (BoolExpr::And(first, _), Some(d11)) = (&compiled, checker.derived("d11", 0..0).ok()) else {
        panic!("{compiled:?}")
    };
    let Typed::Num(compiled::NumExpr::Shared(d11), _) = d11 else { panic!("d11 is not shared") };
    let BoolExpr::Cmp(_, compiled::NumExpr::Shared(d12), compiled::NumExpr::Shared(right)) = &**first else {
        panic!("{first:?}")
    };
    assert!(std::sync::Arc::ptr_eq(right, &d11));
    let compiled::NumExpr::Arith(_, left, _) = &**d12 else { panic!("{d12:?}") };
    assert!(matches!(&**left, compiled::NumExpr::Shared(x) if std::sync::Arc::ptr_eq(x, &d11)));

    // by hand: d0 = 18000 * 2 - 1 = 35999 and each value is 1.5 times the
    // one before, so d12 > d11 > 0; m of the members 67, 40 and 12 is
    // 8 * (cost / 2 + age): 5336, 320 and 100096, all three between 100
    // and 10^7. The tree, the closure and the batch agree.
    assert_eq!(eval_household_with(&s, src), Ok(true));
    assert_eq!(eval_household_with(&s, "d12 < d11 or count(m > 100 and m < 10000000) != 3"), Ok(false));
}

/// [`eval_household`] over other symbols.
fn eval_household_with(s: &Symbols, src: &str) -> Result<bool, ExprError> {
    let compiled = Checker::new(s).condition(&parse(src)?, Scope::Household)?;
    let (h, m) = household();
    let x = Inputs { household: &h, members: &m, stride: 3, count: 3 };
    let value = compiled.eval(&x, 0);
    assert_eq!(compiled.to_fn()(&x, 0), value, "the closure of `{src}` disagrees with the tree");
    let (hb, mb) = batch(&h, &m);
    let (cols, mut out, mut eval) = (columns(&hb, &mb), Vec::new(), BatchEval::default());
    eval.load(&cols);
    eval.bool(&compiled, &cols, Level::Household, &mut out);
    let second = Inputs { household: &hb[3..], members: &mb[9..], stride: 3, count: 1 };
    assert_eq!(out, [value, compiled.eval(&second, 0)], "the batch of `{src}` disagrees with the tree");
    Ok(value)
}
