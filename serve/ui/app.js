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

  // The API key (a key with the "read" scope) lives in this tab's
  // session storage only; without keys configured the service needs none.
  const KEY = "nextbest.key";

  class NeedKey extends Error {}

  async function getJSON(path) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = "Bearer " + key;
    const r = await fetch(path, { cache: "no-store", headers });
    if (r.status === 401 || r.status === 403) throw new NeedKey(r.status === 401 ? "an API key is needed" : "this key lacks the read scope");
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
    const denied = failed.find((r) => r.reason instanceof NeedKey);
    if (denied) {
      askKey(denied.reason.message);
      return;
    }
    document.getElementById("login").hidden = true;
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
      document.body.dataset.height = String(Math.ceil(document.documentElement.scrollHeight));
    }
  }

  // askKey shows the key prompt; the key is tried at the next refresh.
  function askKey(why) {
    const form = document.getElementById("login");
    document.getElementById("login-why").textContent = "The service asks for an API key with the read scope: " + why + ".";
    form.hidden = false;
    document.body.dataset.state = "login";
  }

  function wireLogin() {
    const form = document.getElementById("login");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = document.getElementById("login-key").value.trim();
      if (v) sessionStorage.setItem(KEY, v);
      document.getElementById("login-key").value = "";
      form.hidden = true;
      load().catch(() => {});
    });
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
    set("channels-chart", barChart(chRows, { labelWidth: 90, host: "channels-chart" }));
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
    set("actions-chart", actions.length ? barChart(aRows, { labelWidth: 190, host: "actions-chart" }) : el("p", { class: "empty" }, "No actions shown yet."));
    const head = el("tr", {}, el("th", {}, "Action"), ...channels.map((c) => el("th", {}, c)), el("th", {}, "Total"));
    const aBody = el("tbody");
    for (const a of actions) {
      const name = actionName(a);
      aBody.append(el("tr", {},
        el("td", {}, el("span", {}, a), name ? el("span", { class: "action-desc" }, " · " + name) : null),
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
    const host = document.getElementById(opt.host);
    const W = Math.max(360, Math.min(1400, (host && host.clientWidth) || 600));
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
    set("kpi-model", el("span", { "data-k": "models.kpi" }, m.serving || "–"));
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
    renderTimeline(Array.isArray(m.history) ? m.history : []);

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

  // renderTimeline lists the registry's history (the latest steps GET
  // /v1/models returns), latest first: what happened, to which version,
  // by whom and why.
  function renderTimeline(hist) {
    if (!hist.length) {
      set("timeline-body", el("p", { class: "empty" }, "No promotion, rollback or retraining step recorded yet."));
      return;
    }
    const list = el("ol", { class: "timeline" });
    for (let i = hist.length - 1; i >= 0; i--) {
      const e = hist[i];
      list.append(el("li", {},
        el("span", { class: "muted" }, e.ts ? fmtDate(e.ts) : "–"), " ",
        el("span", { class: "badge", "data-k": "history." + i + ".kind" }, e.kind || "–"),
        e.version ? el("span", { "data-k": "history." + i + ".version" }, " v" + e.version) : null,
        e.by ? " by " + e.by : "",
        e.reason ? el("span", { class: "muted" }, " — " + e.reason) : null));
    }
    set("timeline-body", list);
  }

  // ---- experiments ----------------------------------------------------
  //
  // /v1/experiments answers {"computed_at", "experiments": [...]}, each an
  // experiment.Result: verdict, arms (counts and metrics with intervals),
  // comparisons of each challenger with the control, SRM and sample-size
  // checks, segment breakdowns. /v1/stats adds the split of every decision
  // the journal holds (kept with the state: it survives restarts).

  const METRIC_LABEL = { conversion: "Conversion rate", revenue: "Revenue per decision", reward: "Reward per decision" };
  const STATUS = {
    winner: ["We have a winner", "win"],
    control_wins: ["Control wins", "lose"],
    no_winner_yet: ["No winner yet", ""],
    untrustworthy: ["Do not trust yet", "warn"],
  };

  function metricFmt(metric) {
    return metric === "conversion" ? (v) => fmtPct(v) : (v) => fmtNum(v, 2);
  }
  function armMetric(arm, metric) {
    const m = (arm.metrics || []).find((x) => x.metric === metric);
    return m ? { est: m.mean, lo: m.ci_lo, hi: m.ci_hi } : null;
  }
  function iv(x) {
    return x ? { est: x.estimate, lo: x.lo, hi: x.hi } : null;
  }
  // fmtInterval writes "est (lo to hi)"; an interval that is not finite
  // shows the estimate alone.
  function fmtInterval(v, f) {
    if (!v || v.est === undefined || !isFinite(v.est)) return "–";
    if (!isFinite(v.lo) || !isFinite(v.hi)) return f(v.est);
    return f(v.est) + " (" + f(v.lo) + " to " + f(v.hi) + ")";
  }

  // ivCell is fmtInterval's text as nodes: the interval may wrap under
  // the estimate in a narrow table.
  function ivCell(v, f) {
    const s = fmtInterval(v, f);
    const i = s.indexOf(" (");
    return i < 0 ? [s] : [s.slice(0, i) + " ", el("span", { class: "ci" }, s.slice(i + 1))];
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
        res.error ? "Experiment results are unavailable right now; showing how decisions split across the arms." :
          "This service does not analyse experiments; showing how decisions split across the arms.")));
      return;
    }
    const list = res.data.experiments || [];
    const computed = res.data.computed_at;
    set("experiments-body",
      el("span", { hidden: "", "data-k": "experiments.computed_at" }, computed || ""),
      list.length ? null : el("p", { class: "empty", "data-k": "experiments.none" }, "No experiment running."),
      ...list.map((x) => experimentCard(x, live[x.experiment] || {}, computed)));
  }

  function liveSplit(name, arms, note) {
    const total = sum(arms);
    const body = el("tbody");
    for (const a of Object.keys(arms).sort()) {
      body.append(el("tr", {}, el("td", {}, a), num("td", "exp." + name + "." + a + ".live", arms[a]),
        el("td", {}, total ? fmtPct(arms[a] / total) : "–")));
    }
    return el("div", { class: "exp", "data-experiment": name },
      el("div", { class: "exp-head" }, el("h3", {}, name), el("span", { class: "pill running" }, "running")),
      el("p", { class: "exp-desc" }, note),
      el("table", { class: "numbers" },
        el("thead", {}, el("tr", {}, el("th", {}, "Arm"), el("th", {}, "Decisions"), el("th", {}, "Share"))), body));
  }

  function experimentCard(x, liveArms, computed) {
    const name = x.experiment;
    const key = "exp." + name + ".";
    const primary = x.primary_metric || "conversion";
    const pf = metricFmt(primary);
    const level = x.level ? Math.round(x.level * 100) + "%" : "95%";
    const arms = x.arms || [];
    const comps = x.comparisons || [];
    const primaryCmp = (arm) => comps.find((c) => c.arm === arm && c.metric === primary);
    const v = x.verdict || {};
    const [statusText, statusCls] = STATUS[v.status] || [v.status || "", ""];
    const showRevenue = primary !== "revenue" && arms.some((a) => armMetric(a, "revenue"));

    // verdict: the four sentences a marketer reads first
    const verdict = el("div", { class: "verdict " + statusCls },
      el("p", { class: "headline", "data-k": key + "headline" }, v.headline || statusText),
      v.how_much ? el("p", {}, el("b", {}, "By how much: "), v.how_much) : null,
      v.how_sure ? el("p", {}, el("b", {}, "How sure: "), v.how_sure) : null,
      v.trust ? el("p", {}, el("b", {}, "Can we trust it? "), v.trust) : null);

    // per-arm table
    const head = el("tr", {}, el("th", {}, "Arm"), el("th", {}, "Customers"), el("th", {}, "Decisions"),
      el("th", {}, "Conversions"), el("th", {}, METRIC_LABEL[primary]),
      showRevenue ? el("th", {}, "Revenue / decision") : null,
      el("th", {}, "Lift vs " + x.control),
      el("th", {}, "Chance to beat " + x.control), el("th", {}, "p\u2011value"));
    const body = el("tbody");
    for (const a of arms) {
      const isControl = a.name === x.control;
      const c = primaryCmp(a.name);
      const lift = c ? iv(c.always_valid_relative) : null;
      const liftCls = !c ? "" : c.direction === "better" ? "pos" : c.direction === "worse" ? "neg" : "";
      body.append(el("tr", { "data-arm": a.name },
        el("td", {}, el("strong", {}, a.name), isControl ? el("span", { class: "badge" }, "control") : null,
          a.policy ? el("span", { class: "action-name" }, a.policy + (a.share ? " · " + fmtPct(a.share).replace(".0%", "%") + " of customers" : "")) : null),
        num("td", key + a.name + ".customers", a.customers),
        num("td", key + a.name + ".decisions", a.decisions),
        num("td", key + a.name + ".conversions", a.conversions),
        el("td", { class: "iv", "data-k": key + a.name + "." + primary }, ...ivCell(armMetric(a, primary), pf)),
        showRevenue ? el("td", { class: "iv" }, ...ivCell(armMetric(a, "revenue"), (v) => fmtNum(v, 2))) : null,
        isControl ? el("td", { class: "control-arm" }, "baseline") :
          el("td", { class: "iv " + liftCls, "data-k": key + a.name + ".lift" }, ...ivCell(lift, (v) => fmtPct(v, true))),
        el("td", { "data-k": isControl ? null : key + a.name + ".beat" }, isControl || !c ? "–" : fmtPct(c.prob_beat_control)),
        el("td", {}, isControl || !c ? "–" : fmtP(c.always_valid_p))));
    }

    // guardrails: challengers against the control on the other metrics
    const guards = comps.filter((c) => c.role === "guardrail").map((c) =>
      el("li", { class: c.direction === "worse" ? "neg" : "" },
        el("b", {}, c.arm + ", " + (c.label || c.metric) + ": "),
        fmtInterval(iv(c.always_valid_relative), (v) => fmtPct(v, true)) + " vs " + c.control +
        (c.direction === "worse" ? " — harmed" : c.direction === "better" ? " — improved" : " — no clear difference")));

    // data checks
    const checks = [];
    if (x.srm && x.srm.summary) {
      checks.push(el("span", { class: "check " + (x.srm.mismatch ? "bad" : "ok"), "data-k": key + "srm" }, x.srm.summary));
    }
    if (x.sample_size && x.sample_size.summary) {
      checks.push(el("span", { class: "check " + (x.sample_size.enough ? "ok" : "wait") }, x.sample_size.summary));
    }
    for (const w of x.warnings || []) checks.push(el("span", { class: "check bad" }, w));
    const liveNames = Object.keys(liveArms).sort();
    const liveLine = liveNames.length ? el("p", { class: "hint" }, "Decisions in the journal: ",
      ...liveNames.flatMap((a, i) => [i ? " · " : "", a + " ", num("span", key + a + ".live", liveArms[a])])) : null;

    // charts: the primary metric per arm, and each challenger's lift
    const metricRows = arms.map((a) => ({ label: a.name, iv: armMetric(a, primary) }));
    const liftRows = arms.filter((a) => a.name !== x.control).map((a) => {
      const c = primaryCmp(a.name);
      return { label: a.name, iv: c ? iv(c.always_valid_relative) : null, dir: c && c.direction };
    });
    const charts = el("div", { class: "grid2 charts" },
      el("div", {}, el("h4", {}, METRIC_LABEL[primary] + " by arm, " + level + " interval"),
        el("div", { class: "chart" }, intervalChart(metricRows, pf, false))),
      liftRows.length ? el("div", {}, el("h4", {}, "Lift vs " + x.control + ", always-valid " + level + " interval"),
        el("div", { class: "chart" }, intervalChart(liftRows, (v) => fmtPct(v, true), true))) : null);

    const span = [x.from ? "analysed decisions " + fmtDate(x.from) + " to " + fmtDate(x.to) : null,
      computed ? "computed " + fmtDate(computed) : null].filter(Boolean).join(" · ");
    return el("div", { class: "exp", "data-experiment": name },
      el("div", { class: "exp-head" }, el("h3", {}, name),
        el("span", { class: "pill " + (statusCls || "running"), "data-k": key + "status" }, statusText),
        el("span", { class: "pill" }, "goal: " + (METRIC_LABEL[primary] || primary).toLowerCase()),
        (x.guardrails || []).length ? el("span", { class: "pill" }, "guardrails: " + x.guardrails.map((g) => (METRIC_LABEL[g] || g).toLowerCase()).join(", ")) : null,
        x.start ? el("span", { class: "pill" }, "since " + fmtDate(x.start).replace(/ \d\d:\d\d UTC$/, "")) : null),
      x.description ? el("p", { class: "exp-desc" }, x.description) : null,
      verdict,
      el("table", { class: "numbers wide" }, el("thead", {}, head), body),
      guards.length ? el("ul", { class: "guards" }, ...guards) : null,
      checks.length ? el("div", { class: "checks" }, ...checks) : null,
      charts,
      segmentTable(x, key, pf),
      liveLine,
      span ? el("p", { class: "hint small" }, span) : null);
  }

  // segmentTable breaks the primary metric down by channel: each arm's
  // value and each challenger's lift (descriptive: fixed-horizon).
  function segmentTable(x, key, pf) {
    const segs = (x.segments || []).filter((s) => s.dimension === "channel");
    if (!segs.length) return null;
    const primary = x.primary_metric || "conversion";
    const names = (x.arms || []).map((a) => a.name);
    const challengers = names.filter((n) => n !== x.control);
    const head = el("tr", {}, el("th", {}, "Channel"), ...names.map((n) => el("th", {}, n)),
      ...challengers.map((n) => el("th", {}, n + " lift")));
    const body = el("tbody");
    for (const s of segs) {
      const byName = {};
      for (const a of s.arms || []) byName[a.name] = a;
      body.append(el("tr", {}, el("td", {}, s.value),
        ...names.map((n) => {
          const a = byName[n];
          const m = a ? armMetric(a, primary) : null;
          return el("td", {}, m ? pf(m.est) + " of " + fmtInt(a.decisions) : "–");
        }),
        ...challengers.map((n) => {
          const l = (s.primary_lifts || []).find((p) => p.arm === n);
          return el("td", {}, l ? fmtInterval(iv(l.relative_lift), (v) => fmtPct(v, true)) : "–");
        })));
    }
    return el("details", { class: "segments" },
      el("summary", {}, "By channel (" + (METRIC_LABEL[primary] || primary).toLowerCase() + "; lifts are fixed-horizon " + (x.level ? Math.round(x.level * 100) + "%" : "95%") + " intervals, for orientation only)"),
      el("table", { class: "numbers wide" }, el("thead", {}, head), body));
  }

  // niceTicks returns round tick values covering [lo, hi].
  function niceTicks(lo, hi, n) {
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  // intervalChart draws one row per item: a whisker from lo to hi and a
  // dot at the estimate, the numbers at the right; zeroLine marks 0 and
  // colours a row by its direction (for lifts).
  function intervalChart(items, f, zeroLine) {
    const W = 600, labelW = 90, valueW = 200, rowH = 28, top = 6, axisH = 24;
    const H = top + items.length * rowH + axisH;
    const fin = (v) => typeof v === "number" && isFinite(v);
    let lo = Infinity, hi = -Infinity;
    for (const it of items) {
      if (!it.iv) continue;
      for (const v of [it.iv.lo, it.iv.hi, it.iv.est]) if (fin(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (zeroLine || lo >= 0) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (hi === lo) hi = lo + (Math.abs(lo) || 1);
    const pad = (hi - lo) * 0.06;
    if (lo < 0) lo -= pad;
    hi += pad;
    const x0 = labelW, x1 = W - valueW;
    const sx = (v) => x0 + (v - lo) / (hi - lo) * (x1 - x0);
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    for (const v of niceTicks(lo, hi, 5)) {
      const x = sx(v);
      svg.append(svgEl("line", { x1: x, x2: x, y1: top, y2: H - axisH, stroke: v === 0 ? "#8a93a3" : "#e6e9ef", "stroke-dasharray": v === 0 && zeroLine ? "3 3" : "none" }));
      svg.append(svgEl("text", { x, y: H - 7, "text-anchor": "middle", "font-size": 11, fill: "#5b6577" }, f(v).replace(/\.0(?=%|$)/, "")));
    }
    items.forEach((it, i) => {
      const y = top + i * rowH + rowH / 2;
      svg.append(svgEl("text", { x: labelW - 10, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#1d2433" }, it.label));
      if (!it.iv) return;
      const dir = it.dir || (zeroLine && it.iv.lo > 0 ? "better" : zeroLine && it.iv.hi < 0 ? "worse" : "");
      const color = dir === "better" ? "#13795b" : dir === "worse" ? "#b42318" : "#2357c6";
      if (fin(it.iv.lo) && fin(it.iv.hi)) {
        svg.append(svgEl("line", { x1: sx(it.iv.lo), x2: sx(it.iv.hi), y1: y, y2: y, stroke: color, "stroke-width": 3, "stroke-linecap": "round", opacity: 0.55 }));
        for (const v of [it.iv.lo, it.iv.hi]) svg.append(svgEl("line", { x1: sx(v), x2: sx(v), y1: y - 6, y2: y + 6, stroke: color, "stroke-width": 2 }));
      }
      if (fin(it.iv.est)) svg.append(svgEl("circle", { cx: sx(it.iv.est), cy: y, r: 5.5, fill: color }));
      svg.append(svgEl("text", { x: x1 + 10, y: y + 4, "font-size": 11.5, fill: "#1d2433" }, fmtInterval(it.iv, f)));
    });
    return svg;
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireLogin();
    loop();
  });
})();
