//! What `calibrate` and `fit` print: their results as text for a terminal.

use hhrisk_score::output::format_number;

/// What `fit` prints: the fitted points, the held-out comparison and the
/// bands.
pub fn fit_text(
    card: &crate::scorecard::Scorecard,
    bands: &crate::Calibration,
    samples: &crate::Samples,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let _ = writeln!(
        s,
        "fitted on {} households in {} villages; normalise = {} ({}); C = {} (chosen by leave-one-village-out)",
        samples.len(),
        samples.villages.len(),
        card.normalise,
        match card.normalise_chosen_by {
            "auto" => "chosen: it ranks best on villages left out",
            "auto (the model states none)" => {
                "the model states none ([scoring] normalise), so the one that ranks best on villages left out"
            }
            "model" => "the model's",
            _ => "as asked",
        },
        card.penalty.c
    );
    if card.candidates.len() > 1 {
        let _ = writeln!(s, "\nnormalisations tried (held out, fitted points):");
        for c in &card.candidates {
            let _ = writeln!(
                s,
                "  {:<13} average precision {}   AUC {}{}",
                c.normalise.name(),
                f3(c.average_precision),
                f3(c.auc),
                if c.normalise == card.normalise { "   ← chosen" } else { "" }
            );
        }
    }
    let h = &card.held_out;
    let _ = writeln!(s, "\nheld out (each village scored by points fitted without it):");
    let _ = writeln!(s, "                     current   fitted   (before rounding)");
    for (name, p) in [("average precision", h.average_precision), ("AUC", h.auc)] {
        let _ = writeln!(
            s,
            "  {:<18} {:>7}  {:>7}   ({})",
            name,
            f3(p.current),
            f3(p.fitted),
            f3(p.fitted_unrounded)
        );
    }
    let t = &h.paired_test;
    let _ = writeln!(
        s,
        "  at the current model's alert volume ({} alerts): precision {} → {}; difference {:+.1} points {} \
         (village bootstrap), McNemar p = {:.3} ({} households in need found only by the current points, {} only by the fitted)",
        h.at_current_volume.current.alerts,
        percent(h.at_current_volume.current.precision),
        percent(h.at_current_volume.tuned.precision),
        100.0 * t.precision_difference,
        interval(t.difference_ci),
        t.p_value,
        t.current_only,
        t.tuned_only
    );
    let dropped: Vec<&str> = card.items.iter().filter(|i| i.dropped).map(|i| i.item.as_str()).collect();
    let changed = card.items.iter().filter(|i| i.constraint != "off" && i.points != i.current_points).count();
    let _ = writeln!(
        s,
        "\nitems: {} with new points, {} switched off (points fell to 0){}{}",
        changed,
        dropped.len(),
        if dropped.is_empty() { "" } else { ": " },
        dropped.join(", ")
    );
    let sizes = &h.by_household_size;
    let _ = writeln!(s, "\nheld-out alerts by household size (current → fitted):");
    for (c, f) in sizes.current.iter().zip(&sizes.fitted) {
        let _ = writeln!(
            s,
            "  {:<4} members: need rate {:>7}   alert rate {:>7} → {:>7}   precision {:>7} → {:>7}",
            c.group,
            percent(c.need_rate),
            percent(c.alert_rate),
            percent(f.alert_rate),
            percent(c.precision),
            percent(f.precision)
        );
    }
    let _ = writeln!(s, "\nbands of the fitted model:");
    for b in &bands.band_figures {
        let _ = writeln!(
            s,
            "  {} {:>8}  {:>5} households  precision {} {}",
            pad(&b.level, 8),
            format!("≥ {}", format_number(b.min_score)),
            b.households,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    s
}

/// The table by household size, as text (empty for no table).
pub fn size_section(groups: &[crate::household_size::SizeGroup]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if groups.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\nby household size:");
    let _ = writeln!(s, "  members  households  in need   alerts  alert rate  need rate  precision   recall");
    for g in groups {
        let _ = writeln!(
            s,
            "  {:<7} {:>11} {:>8} {:>8} {:>11} {:>10} {:>10} {:>8}",
            g.group,
            g.households,
            g.in_need,
            g.alerts,
            percent(g.alert_rate),
            percent(g.need_rate),
            percent(g.precision),
            percent(g.recall)
        );
    }
    s
}

/// Pads to a display width, counting CJK characters as two columns.
pub fn pad(text: &str, width: usize) -> String {
    let shown: usize = text.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}

/// A share as a percentage with one decimal, `–` when there is none.
pub fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

/// An interval as percentages, `[lo, hi]`; empty when there is none.
pub fn interval(i: Option<crate::intervals::Interval>) -> String {
    i.map_or_else(String::new, |i| format!("[{:.1}, {:.1}]", 100.0 * i.lo, 100.0 * i.hi))
}

/// What `calibrate` prints: the bands, their precision and recall held
/// out, and the comparisons.
pub fn calibration_text(r: &crate::Calibration, samples: &crate::Samples) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{} households with outcomes in {} villages", samples.len(), samples.villages.len());
    if samples.unverified > 0 {
        let _ = writeln!(s, "({} households without an outcome left out)", samples.unverified);
    }
    if samples.selected > 0 {
        let _ = writeln!(
            s,
            "note: the outcomes say households were verified because they were alerted or audited (selected_by): \
             the verified ones are no fair sample of all, so the recall below is not the recall over every \
             household and the bands are fitted on a biased sample; for recall weighted by the audit, score the \
             villages and run `hhrisk evaluate`"
        );
    }
    let _ = writeln!(s, "\nfitted bands (score, normalise = {}):", r.normalise);
    for b in &r.band_figures {
        let _ = writeln!(
            s,
            "  {:<8} ≥ {:>8.3}   {:>5} households, {:>5} in need: precision {} {}",
            b.level,
            b.min_score,
            b.households,
            b.in_need,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    let line = |s: &mut String, name: &str, a: &crate::metrics::Accuracy| {
        let _ = writeln!(
            s,
            "  {} precision {:>7} {:<14} recall {:>7} {:<14} alerts {}",
            pad(name, 30),
            percent(a.precision),
            interval(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
            percent(a.recall),
            interval(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
            a.alerts
        );
    };
    let _ = writeln!(s, "\naccuracy (95 % intervals: bootstrap over villages and households):");
    line(&mut s, "default bands of the model", &r.baseline.in_sample);
    line(&mut s, "fitted bands, in sample", &r.in_sample);
    line(&mut s, "fitted, leave-one-village-out", &r.leave_one_village_out.accuracy);
    let _ = writeln!(s, "\nleave-one-village-out, each village measured with bands fitted on the others:");
    for f in &r.leave_one_village_out.folds {
        line(&mut s, &f.village, &f.accuracy);
    }
    s.push_str(&size_section(&r.by_household_size));
    if let Some(t) = &r.tuned {
        let _ = writeln!(
            s,
            "\ntuned points (tuned.toml is fitted on all {} sample villages: its in-sample rows are optimistic; the \
             leave-one-village-out rows tune without each village and measure on it), at the same alert volume as \
             the current points:",
            samples.villages.len()
        );
        line(&mut s, "current, in sample", &t.in_sample.current);
        line(&mut s, "tuned, in sample (optimistic)", &t.in_sample.tuned);
        line(&mut s, "current, leave-one-village-out", &t.leave_one_village_out.current);
        line(&mut s, "tuned, leave-one-village-out", &t.leave_one_village_out.tuned);
        let p = &t.paired_test;
        let _ = writeln!(
            s,
            "  paired test (McNemar, exact): {} households in need found only by the tuned points, {} only by the current; p = {:.3}; precision difference {:+.1} points {}",
            p.tuned_only,
            p.current_only,
            p.p_value,
            100.0 * p.precision_difference,
            interval(p.difference_ci)
        );
        let r = &t.held_out_ranking;
        let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "  held out, each village ranked by points tuned without it: average precision {} → {}, AUC {} → {}",
            f3(r.average_precision_current),
            f3(r.average_precision_tuned),
            f3(r.auc_current),
            f3(r.auc_tuned)
        );
        let changed: Vec<String> = t
            .points
            .iter()
            .filter(|p| p.suggested != p.current)
            .map(|p| format!("{} {}→{}", p.item, format_number(p.current), format_number(p.suggested)))
            .collect();
        let _ = writeln!(s, "  {} items change: {}", changed.len(), changed.join(", "));
        let _ = writeln!(
            s,
            "  (--tune keeps each item on its sign and within --max-change of its points; `hhrisk fit` learns points \
             without that cage, with the penalty chosen on villages left out)"
        );
    }
    s
}
