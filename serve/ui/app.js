// nextbest live dashboard: reads the service's JSON endpoints every few
// seconds and renders them; charts are inline SVG drawn here. Plain JS,
// no libraries, nothing fetched from outside the service.
//
// Every number a test or a person may check carries data-k="<key>" and
// shows exactly the API's value (integers with thousands separators).
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2357c6", "#e07b39", "#2f9e74", "#8a5cc2", "#c2417a", "#6b7a8f"];
  const MINUS = "\u2212";

  // ---- formatting ----------------------------------------------------

  function fmtInt(n) {
    if (n === undefined || n === null || !isFinite(n)) return "–";
    const neg = n < 0;
    let s = String(Math.round(Math.abs(n)));
    s = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? MINUS : "") + s;
  }
  function fmtPct(x, signed) {
    if (x === undefined || x === null || !isFinite(x)) return "–";
    const v = (x * 100).toFixed(1);
    const zero = Number(v) === 0;
    if (Number(v) < 0) return MINUS + v.slice(1) + "%";
    return (signed && !zero ? "+" : "") + v + "%";
  }
  function fmtNum(x, digits) {
    if (x === undefined || x === null || !isFinite(x)) return "–";
    const v = x.toFixed(digits);
    return Number(v) < 0 ? MINUS + v.slice(1) : v;
  }
  function fmtSigned(x, digits) {
    const s = fmtNum(x, digits);
    return x > 0 && Number(x.toFixed(digits)) !== 0 ? "+" + s : s;
  }
  function fmtP(p) {
    if (p === undefined || p === null || !isFinite(p)) return "–";
    if (p < 0.001) return "<0.001";
    return p.toFixed(3);
  }
  function fmtTime(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function fmtDate(s) {
    const d = new Date(s);
    if (isNaN(d)) return "";
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const pad = (n) => String(n).padStart(2, "0");
    return d.getUTCDate() + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }

  // ---- DOM helpers ----------------------------------------------------

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of kids) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function set(id, ...kids) {
    const e = document.getElementById(id);
    e.replaceChildren(...kids.filter((k) => k !== undefined && k !== null));
    return e;
  }
  // num is a cell or span showing an integer, tagged for tests.
  function num(tag, key, n, cls) {
    return el(tag, { "data-k": key, class: (cls || "") + (n === 0 ? " zero" : "") || null }, fmtInt(n));
  }
  function sum(o) {
    let t = 0;
    for (const v of Object.values(o || {})) t += v;
    return t;
  }
  function byValueDesc(o) {
    return Object.keys(o || {}).sort((a, b) => (o[b] - o[a]) || a.localeCompare(b));
  }

  // ---- fetching -------------------------------------------------------

  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    if (r.status === 404) return { missing: true };
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return { data: await r.json() };
  }

  const state = { catalog: null };

  async function load() {
    const [stats, models, exps, acts] = await Promise.allSettled([
      getJSON("/v1/stats"), getJSON("/v1/models"), getJSON("/v1/experiments"),
      state.catalog ? Promise.resolve({ data: state.catalog }) : getJSON("/v1/actions"),
    ]);
    const failed = [stats, models].filter((r) => r.status === "rejected");
    if (acts.status === "fulfilled" && acts.value.data) state.catalog = acts.value.data;
    const dot = document.getElementById("live-dot");
    const err = document.getElementById("error");
    if (failed.length) {
      dot.className = "dot down";
      err.hidden = false;
      err.textContent = "Cannot reach the service (" + failed[0].reason.message + "). Showing the last numbers received.";
    } else {
      dot.className = "dot live";
      err.hidden = true;
    }
    const st = stats.status === "fulfilled" ? stats.value.data : null;
    if (st) renderStats(st);
    if (models.status === "fulfilled" && models.value.data) renderModels(models.value.data);
    if (exps.status === "fulfilled") renderExperiments(exps.value, st);
    else renderExperiments({ error: exps.reason }, st);
    if (!failed.length) {
      set("updated", "Updated " + fmtTime(new Date()));
      document.body.dataset.state = "ready";
    }
  }

  async function loop() {
    try {
      await load();
    } catch (e) {
      const err = document.getElementById("error");
      err.hidden = false;
      err.textContent = "Dashboard error: " + e.message;
    }
    setTimeout(loop, REFRESH_MS);
  }

  // ---- decisions ------------------------------------------------------

  function actionName(id) {
    const acts = (state.catalog && state.catalog.actions) || [];
    const a = acts.find((x) => x.id === id);
    return a && a.name ? a.name : "";
  }

  function renderStats(st) {
    const byCh = st.decisions_by_channel || {};
    const byAct = st.actions_by_channel || {};
    const outcomes = st.outcomes_by_type || {};
    const totalDecisions = sum(byCh);
    let totalShown = 0;
    for (const a of Object.keys(byAct)) totalShown += sum(byAct[a]);

    set("kpi-decisions", fmtInt(totalDecisions));
    set("kpi-actions", fmtInt(totalShown));
    set("kpi-outcomes", fmtInt(sum(outcomes)));
    set("kpi-events", fmtInt(st.events));
    set("since", st.since ? "counting since " + fmtDate(st.since) : "");

    // channels: the catalog's, then any other seen
    const channels = ((state.catalog && state.catalog.channels) || []).slice();
    for (const c of Object.keys(byCh)) if (!channels.includes(c)) channels.push(c);
    for (const a of Object.keys(byAct)) for (const c of Object.keys(byAct[a])) if (!channels.includes(c)) channels.push(c);
    const color = (c) => PALETTE[channels.indexOf(c) % PALETTE.length];

    // decisions by channel
    const chRows = channels.map((c) => ({ label: c, segments: [{ value: byCh[c] || 0, color: color(c) }] }));
    set("channels-chart", barChart(chRows, { labelWidth: 110 }));
    const chBody = el("tbody");
    for (const c of channels) {
      const n = byCh[c] || 0;
      chBody.append(el("tr", {}, el("td", {}, c), num("td", "decisions.channel." + c, n),
        el("td", {}, totalDecisions ? fmtPct(n / totalDecisions) : "–")));
    }
    set("channels-table",
      el("thead", {}, el("tr", {}, el("th", {}, "Channel"), el("th", {}, "Decisions"), el("th", {}, "Share"))),
      chBody,
      el("tfoot", {}, el("tr", {}, el("td", {}, "All channels"), num("td", "decisions.channel_total", totalDecisions), el("td", {}, ""))));

    // outcomes
    const oBody = el("tbody");
    const types = byValueDesc(outcomes);
    for (const t of types) oBody.append(el("tr", {}, el("td", {}, t), num("td", "outcomes.type." + t, outcomes[t])));
    if (!types.length) oBody.append(el("tr", {}, el("td", { colspan: "2", class: "empty" }, "No outcomes reported yet.")));
    set("outcomes-table",
      el("thead", {}, el("tr", {}, el("th", {}, "Outcome type"), el("th", {}, "Reported"))),
      oBody,
      el("tfoot", {}, el("tr", {}, el("td", {}, "Journey events"), num("td", "events.count", st.events || 0))));

    // actions × channel
    const totals = {};
    for (const a of Object.keys(byAct)) totals[a] = sum(byAct[a]);
    const actions = byValueDesc(totals);
    set("legend", ...channels.map((c, i) => el("span", {}, el("span", { class: "sw c" + (i % PALETTE.length) }), c)));
    const aRows = actions.map((a) => ({
      label: a,
      segments: channels.map((c) => ({ value: (byAct[a] || {})[c] || 0, color: color(c) })),
    }));
    set("actions-chart", actions.length ? barChart(aRows, { labelWidth: 190 }) : el("p", { class: "empty" }, "No actions shown yet."));
    const head = el("tr", {}, el("th", {}, "Action"), ...channels.map((c) => el("th", {}, c)), el("th", {}, "Total"));
    const aBody = el("tbody");
    for (const a of actions) {
      const name = actionName(a);
      aBody.append(el("tr", {},
        el("td", {}, el("span", {}, a), name ? el("span", { class: "action-name" }, name) : null),
        ...channels.map((c) => num("td", "actions." + a + "." + c, (byAct[a] || {})[c] || 0)),
        num("td", "actions." + a + ".total", totals[a])));
    }
    const foot = el("tr", {}, el("td", {}, "All actions"),
      ...channels.map((c) => {
        let t = 0;
        for (const a of actions) t += (byAct[a] || {})[c] || 0;
        return num("td", "actions.channel_total." + c, t);
      }),
      num("td", "actions.all", totalShown));
    set("actions-table", el("thead", {}, head), aBody, el("tfoot", {}, foot));
  }

  // barChart draws horizontal (stacked) bars: rows of {label, segments:
  // [{value, color}]}, the row total at the bar's end.
  function barChart(rows, opt) {
    const host = document.getElementById("decisions");
    const W = Math.max(420, Math.min(1200, (host && host.clientWidth) || 900) - 40);
    const rowH = 24, gap = 6, top = 4, labelW = opt.labelWidth, valueW = 70;
    const H = top + rows.length * (rowH + gap);
    let max = 0;
    for (const r of rows) max = Math.max(max, r.segments.reduce((t, s) => t + s.value, 0));
    const scale = max > 0 ? (W - labelW - valueW) / max : 0;
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    rows.forEach((r, i) => {
      const y = top + i * (rowH + gap);
      svg.append(svgEl("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", "font-size": 12, fill: "#1d2433" }, r.label));
      svg.append(svgEl("rect", { x: labelW, y, width: W - labelW - valueW, height: rowH, fill: "#f4f6f9" }));
      let x = labelW, total = 0;
      for (const s of r.segments) {
        if (s.value <= 0) continue;
        const w = s.value * scale;
        const rect = svgEl("rect", { x, y, width: Math.max(w, 1), height: rowH, fill: s.color });
        rect.append(svgEl("title", {}, r.label + ": " + fmtInt(s.value)));
        svg.append(rect);
        x += w;
        total += s.value;
      }
      svg.append(svgEl("text", { x: x + 6, y: y + rowH / 2 + 4, "font-size": 12, fill: "#5b6577" }, fmtInt(total)));
    });
    return svg;
  }

  // ---- models ---------------------------------------------------------

  function renderModels(m) {
    const reg = Array.isArray(m.registry) ? m.registry : [];
    const promoted = m.promoted_version || 0;
    set("kpi-model", el("span", { "data-k": "models.kpi" }, m.serving + (promoted ? " v" + promoted : "")));
    const online = m.online || {};
    const facts = [
      ["Serving now", el("span", { "data-k": "models.serving" }, m.serving || "–")],
      ["Promoted version", el("span", { "data-k": "models.promoted_version" }, promoted ? "v" + promoted : "none (the online model serves)")],
      ["Online model", el("span", {}, el("span", { "data-k": "models.online.name" }, online.name || "–"), " · ",
        el("span", { "data-k": "models.online.observations" }, fmtInt(online.observations)), " observations learned · ",
        fmtInt(online.dim), " features")],
      ["Exploration", el("span", { "data-k": "models.explorer" }, m.explorer || "–")],
      ["Feature spec", el("code", { "data-k": "models.feature_spec" }, m.feature_spec || "–")],
    ];
    set("model-facts", ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

    if (!reg.length) {
      set("registry-body", el("p", { class: "empty" }, m.registry === undefined ?
        "No model registry configured: the online model learns and serves." : "The registry holds no model yet."));
      return;
    }
    const body = el("tbody");
    for (const e of reg.slice().sort((a, b) => b.Version - a.Version)) {
      const meta = e.Meta || {};
      const v = e.Version;
      const metrics = meta.metrics || {};
      const mk = Object.keys(metrics).slice(0, 3).map((k) => k + " " + fmtNum(metrics[k], 3)).join(", ");
      body.append(el("tr", {},
        el("td", {}, el("span", { "data-k": "registry." + v + ".version" }, "v" + v),
          e.Promoted ? el("span", { class: "badge", "data-k": "registry." + v + ".promoted" }, "promoted") : null),
        el("td", { "data-k": "registry." + v + ".name" }, meta.name || (e.Err ? "unreadable" : "–")),
        el("td", {}, meta.type || "–"),
        el("td", {}, meta.created ? fmtDate(meta.created) : "–"),
        num("td", "registry." + v + ".examples", meta.examples || 0),
        el("td", {}, mk || "–")));
    }
    set("registry-body", el("table", { class: "numbers wide" },
      el("thead", {}, el("tr", {}, el("th", {}, "Version"), el("th", {}, "Model"), el("th", {}, "Type"),
        el("th", {}, "Trained"), el("th", {}, "Examples"), el("th", {}, "Held-out metrics"))),
      body));
  }

  // ---- experiments ----------------------------------------------------
  //
  // /v1/experiments answers {"computed_at", "experiments": [result...]}.
  // The reader below takes the fields it knows by several names so that
  // it shows what the analysis returns.

  function pick(o, ...keys) {
    if (!o || typeof o !== "object") return undefined;
    for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
    return undefined;
  }
  // interval reads a number, [lo, hi] or {estimate, lo, hi} (by several
  // names) into {est, lo, hi}; missing parts are undefined.
  function interval(v) {
    if (v === undefined || v === null) return null;
    if (typeof v === "number") return { est: v };
    if (Array.isArray(v)) return v.length === 2 ? { lo: v[0], hi: v[1] } : null;
    if (typeof v !== "object") return null;
    const out = {
      est: pick(v, "estimate", "value", "mean", "point", "rate", "est", "mid"),
      lo: pick(v, "lo", "low", "lower", "ci_low", "ci_lo", "lower95"),
      hi: pick(v, "hi", "high", "upper", "ci_high", "ci_hi", "upper95"),
    };
    const ci = pick(v, "ci", "interval", "ci95");
    if (ci) {
      const c = interval(ci);
      if (c) { if (out.lo === undefined) out.lo = c.lo; if (out.hi === undefined) out.hi = c.hi; }
    }
    return out.est === undefined && out.lo === undefined ? null : out;
  }
  function fmtInterval(iv, f) {
    if (!iv) return "–";
    const mid = iv.est !== undefined ? f(iv.est) : "";
    if (iv.lo === undefined || iv.hi === undefined) return mid || "–";
    return (mid ? mid + " " : "") + "(" + f(iv.lo) + " to " + f(iv.hi) + ")";
  }

  function armsOf(x) {
    const a = pick(x, "arms", "Arms");
    if (Array.isArray(a)) return a;
    if (a && typeof a === "object") return Object.entries(a).map(([k, v]) => Object.assign({ name: k }, v));
    return [];
  }

  function renderExperiments(res, st) {
    const live = (st && st.experiment_decisions) || {};
    if (res.error || res.missing || !res.data) {
      // no analysis endpoint (or it failed): show the live split, if any
      const names = Object.keys(live).sort();
      if (!names.length) {
        set("experiments-body", el("p", { class: "empty", "data-k": "experiments.none" },
          res.error ? "Experiment results are unavailable right now." : "No experiment running."));
        return;
      }
      set("experiments-body", ...names.map((n) => liveSplit(n, live[n],
        res.error ? "Experiment results are unavailable right now; showing the split of decisions." :
          "Results are not analysed by this service; showing the split of decisions.")));
      return;
    }
    const list = pick(res.data, "experiments") || [];
    if (!list.length) {
      set("experiments-body", el("p", { class: "empty", "data-k": "experiments.none" }, "No experiment running."));
      return;
    }
    const computed = pick(res.data, "computed_at");
    set("experiments-body",
      computed ? el("p", { class: "hint" }, "Results computed " + fmtDate(computed) + " from the decision journal.") : null,
      ...list.map((x) => experimentCard(x, live)));
  }

  function liveSplit(name, arms, note) {
    const total = sum(arms);
    const body = el("tbody");
    for (const a of Object.keys(arms).sort()) {
      body.append(el("tr", {}, el("td", {}, a), num("td", "exp." + name + "." + a + ".decisions", arms[a]),
        el("td", {}, total ? fmtPct(arms[a] / total) : "–")));
    }
    return el("div", { class: "exp", "data-experiment": name },
      el("div", { class: "exp-head" }, el("h3", {}, name), el("span", { class: "pill running" }, "running")),
      el("p", { class: "exp-desc" }, note),
      el("table", { class: "numbers" },
        el("thead", {}, el("tr", {}, el("th", {}, "Arm"), el("th", {}, "Decisions"), el("th", {}, "Share"))), body));
  }

  function experimentCard(x, live) {
    const cfg = pick(x, "config", "experiment") || {};
    const name = pick(x, "name", "experiment") || pick(cfg, "name") || "experiment";
    const nameStr = typeof name === "string" ? name : String(pick(name, "name") || "experiment");
    const control = pick(x, "control") || pick(cfg, "control");
    const metric = pick(x, "primary_metric", "metric") || pick(cfg, "primary_metric") || "conversion";
    const arms = armsOf(x);
    const desc = pick(x, "description") || pick(cfg, "description");
    const verdictText = pick(x, "verdict", "summary", "headline", "conclusion");
    const verdict = typeof verdictText === "object" ? pick(verdictText, "text", "summary", "message") : verdictText;
    const winner = pick(x, "winner");
    const srm = pick(x, "srm", "sample_ratio_mismatch", "srm_check");
    const channels = pick(x, "channels") || pick(cfg, "channels");

    const rows = arms.map((a) => {
      const armName = String(pick(a, "name", "arm") || "?");
      const isControl = pick(a, "control", "is_control") === true || armName === control;
      return {
        name: armName,
        policy: pick(a, "policy"),
        control: isControl,
        decisions: pick(a, "decisions", "n", "count"),
        conversions: pick(a, "conversions"),
        conv: interval(pick(a, "conversion_rate", "conversion", "cr")),
        rev: interval(pick(a, "revenue_per_decision", "revenue", "rpd")),
        mean: interval(pick(a, "mean_reward", "reward")),
        lift: interval(pick(a, "lift", "lift_vs_control", "relative_lift")),
        p: pick(a, "p_value", "always_valid_p", "always_valid_p_value", "sequential_p", "p"),
        beat: pick(a, "prob_beat_control", "probability_to_beat_control", "prob_to_beat_control", "chance_to_beat_control", "p_beat"),
      };
    });
    const hasRev = rows.some((r) => r.rev);
    const metricKey = metric === "revenue" && hasRev ? "rev" : (metric === "reward" && rows.some((r) => r.mean) ? "mean" : "conv");
    const metricFmt = metricKey === "conv" ? (v) => fmtPct(v) : (v) => fmtNum(v, 2);
    const metricLabel = metricKey === "conv" ? "Conversion rate" : metricKey === "rev" ? "Revenue per decision" : "Mean reward";

    const body = el("tbody");
    for (const r of rows) {
      const liftCls = r.lift && r.lift.lo > 0 ? "pos" : r.lift && r.lift.hi < 0 ? "neg" : "";
      body.append(el("tr", {},
        el("td", {}, el("strong", {}, r.name), r.control ? el("span", { class: "badge" }, "control") : null,
          r.policy ? el("span", { class: "action-name" }, "policy: " + r.policy) : null),
        num("td", "exp." + nameStr + "." + r.name + ".decisions", r.decisions),
        el("td", { "data-k": "exp." + nameStr + "." + r.name + ".conversion" }, fmtInterval(r.conv, (v) => fmtPct(v))),
        hasRev ? el("td", {}, fmtInterval(r.rev, (v) => fmtNum(v, 2))) : null,
        r.control ? el("td", { class: "control-arm" }, "baseline") :
          el("td", { class: liftCls, "data-k": "exp." + nameStr + "." + r.name + ".lift" }, fmtInterval(r.lift, (v) => fmtPct(v, true))),
        el("td", {}, r.control ? "–" : (r.beat === undefined ? "–" : fmtPct(r.beat))),
        el("td", {}, r.control ? "–" : fmtP(r.p))));
    }
    const head = el("tr", {}, el("th", {}, "Arm"), el("th", {}, "Decisions"), el("th", {}, "Conversion rate"),
      hasRev ? el("th", {}, "Revenue / decision") : null, el("th", {}, "Lift vs control"),
      el("th", {}, "Chance to beat control"), el("th", {}, "p-value (always valid)"));

    let vClass = "verdict";
    if (winner && winner !== control) vClass += " win";
    const checks = [];
    if (srm && typeof srm === "object") {
      const bad = pick(srm, "mismatch", "failed", "detected") === true || pick(srm, "ok", "passed") === false;
      const p = pick(srm, "p_value", "p");
      checks.push(el("span", { class: "check " + (bad ? "bad" : "ok") },
        bad ? "Traffic split does not match the configured shares (sample-ratio mismatch" + (p !== undefined ? ", p = " + fmtP(p) : "") + "): results may not be trustworthy."
          : "Traffic split matches the configured shares" + (p !== undefined ? " (SRM p = " + fmtP(p) + ")" : "") + "."));
      if (bad) vClass += " warn";
    }
    const liveArms = live[nameStr];
    if (liveArms) checks.push(el("span", { class: "check ok" }, "Live since restart: " + fmtInt(sum(liveArms)) + " decisions in this experiment."));

    const charts = rows.some((r) => r[metricKey]) ? el("div", { class: "grid2" },
      el("div", {}, el("h3", {}, metricLabel + " by arm (95% interval)"),
        el("div", { class: "chart" }, intervalChart(rows.map((r) => ({ label: r.name, iv: r[metricKey] })), metricFmt, false))),
      rows.some((r) => r.lift) ? el("div", {}, el("h3", {}, "Lift vs control (95% interval)"),
        el("div", { class: "chart" }, intervalChart(rows.filter((r) => !r.control).map((r) => ({ label: r.name, iv: r.lift })), (v) => fmtPct(v, true), true))) : null) : null;

    return el("div", { class: "exp", "data-experiment": nameStr },
      el("div", { class: "exp-head" }, el("h3", {}, nameStr),
        el("span", { class: "pill running" }, "running"),
        el("span", { class: "pill" }, "goal: " + metric),
        channels && channels.length ? el("span", { class: "pill" }, "channels: " + channels.join(", ")) : null),
      desc ? el("p", { class: "exp-desc" }, desc) : null,
      verdict ? el("p", { class: vClass, "data-k": "exp." + nameStr + ".verdict" }, verdict) : null,
      el("table", { class: "numbers wide" }, el("thead", {}, head), body),
      checks.length ? el("div", { class: "checks" }, ...checks) : null,
      charts);
  }

  // intervalChart draws one row per item: a whisker from lo to hi and a
  // dot at the estimate; zeroLine marks 0 (for lifts).
  function intervalChart(items, f, zeroLine) {
    const W = 520, labelW = 110, valueW = 150, rowH = 26, top = 6, axisH = 22;
    const H = top + items.length * rowH + axisH;
    let lo = Infinity, hi = -Infinity;
    for (const it of items) {
      if (!it.iv) continue;
      for (const v of [it.iv.lo, it.iv.hi, it.iv.est]) if (v !== undefined && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (zeroLine || lo >= 0) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (hi === lo) hi = lo + 1;
    const pad = (hi - lo) * 0.08;
    if (lo < 0 || zeroLine) lo -= pad;
    hi += pad;
    const x0 = labelW, x1 = W - valueW;
    const sx = (v) => x0 + (v - lo) / (hi - lo) * (x1 - x0);
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    // axis: 4 ticks
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4, x = sx(v);
      svg.append(svgEl("line", { x1: x, x2: x, y1: top, y2: H - axisH, stroke: "#eef1f6" }));
      svg.append(svgEl("text", { x, y: H - 6, "text-anchor": "middle", "font-size": 11, fill: "#5b6577" }, f(v)));
    }
    if (lo < 0 && hi > 0) svg.append(svgEl("line", { x1: sx(0), x2: sx(0), y1: top, y2: H - axisH, stroke: "#5b6577", "stroke-dasharray": "3 3" }));
    items.forEach((it, i) => {
      const y = top + i * rowH + rowH / 2;
      svg.append(svgEl("text", { x: labelW - 8, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#1d2433" }, it.label));
      if (!it.iv) return;
      const good = zeroLine && it.iv.lo > 0, bad = zeroLine && it.iv.hi < 0;
      const color = good ? "#13795b" : bad ? "#b42318" : "#2357c6";
      if (it.iv.lo !== undefined && it.iv.hi !== undefined) {
        svg.append(svgEl("line", { x1: sx(it.iv.lo), x2: sx(it.iv.hi), y1: y, y2: y, stroke: color, "stroke-width": 3, "stroke-linecap": "round" }));
        for (const v of [it.iv.lo, it.iv.hi]) svg.append(svgEl("line", { x1: sx(v), x2: sx(v), y1: y - 6, y2: y + 6, stroke: color, "stroke-width": 2 }));
      }
      if (it.iv.est !== undefined) svg.append(svgEl("circle", { cx: sx(it.iv.est), cy: y, r: 5, fill: color }));
      svg.append(svgEl("text", { x: x1 + 8, y: y + 4, "font-size": 11, fill: "#5b6577" }, fmtInterval(it.iv, f)));
    });
    return svg;
  }

  document.addEventListener("DOMContentLoaded", loop);
})();
