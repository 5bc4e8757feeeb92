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
      if (currentPage() === "overview") ready();
    }
  }

  // ready marks the page shown as rendered (tests wait for it) and
  // writes its height, so that a screenshot can fit the page.
  function ready() {
    document.body.dataset.state = "ready";
    document.body.dataset.height = String(Math.ceil(document.documentElement.scrollHeight));
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
      tick();
    });
  }

  // ---- pages ----------------------------------------------------------
  //
  // The overview reads the live counters every few seconds; each other
  // page reads one report that the service computes in the background
  // (GET /v1/reports/NAME), again every half minute. The page is the
  // URL's fragment (#campaigns), so each has its own address.

  const PAGES = ["overview", "campaigns", "channels", "journeys", "clv", "attribution"];
  const REPORT_REFRESH_MS = 30000;

  function currentPage() {
    const h = location.hash.replace(/^#/, "");
    return PAGES.includes(h) ? h : "overview";
  }

  function showPage(p) {
    for (const q of PAGES) document.getElementById("page-" + q).hidden = q !== p;
    for (const a of document.querySelectorAll("nav.tabs a")) {
      const on = a.dataset.page === p;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.body.dataset.page = p;
  }

  let timer = null;
  let generation = 0;

  // tick loads the page shown and schedules the next load; a page change
  // starts a new tick at once, and the one in flight then stops.
  async function tick() {
    clearTimeout(timer);
    const gen = ++generation;
    const p = currentPage();
    showPage(p);
    let next = REFRESH_MS;
    try {
      if (p === "overview") await load();
      else next = await loadReport(p, gen);
    } catch (e) {
      if (e instanceof NeedKey) {
        askKey(e.message);
      } else {
        document.getElementById("live-dot").className = "dot down";
        const err = document.getElementById("error");
        err.hidden = false;
        err.textContent = (p === "overview" ? "Dashboard error: " : "Cannot reach the service (") + e.message +
          (p === "overview" ? "" : "). Showing the last report received.");
      }
    }
    if (gen === generation) timer = setTimeout(tick, next);
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
    const W = opt.width || Math.max(360, Math.min(1400, (host && host.clientWidth) || 600));
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
  function intervalChart(items, f, zeroLine, labelWidth) {
    const W = 600, labelW = labelWidth || 90, valueW = 200, rowH = 28, top = 6, axisH = 24;
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

  // ---- reports ---------------------------------------------------------
  //
  // GET /v1/reports/NAME answers {name, computed_at, journal_lsn,
  // every_seconds, took_seconds, headline, report, last_error?}: report is
  // the JSON `nextbest report NAME --json` writes for the service's
  // journal (campaigns.Report, journeys.Report, attribution.Report), or
  // the CLV report of the profiles; null when there is nothing to report
  // yet. 503 while the first computation runs.

  const REPORTS = {
    campaigns: { paths: ["/v1/reports/campaigns"], render: renderCampaigns },
    channels: { paths: ["/v1/reports/campaigns"], render: renderChannels },
    journeys: { paths: ["/v1/reports/journeys"], render: renderJourneys },
    clv: { paths: ["/v1/reports/clv"], render: renderCLV },
    attribution: { paths: ["/v1/reports/attribution", "/v1/reports/attribution?by=action"], render: renderAttribution },
  };

  // getReport fetches a report: {data}, or {wait: message, retry: s}
  // while it is being computed, or {off: message} where the service does
  // not compute reports (501).
  async function getReport(path) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = "Bearer " + key;
    const r = await fetch(path, { cache: "no-store", headers });
    if (r.status === 401 || r.status === 403) throw new NeedKey(r.status === 401 ? "an API key is needed" : "this key lacks the read scope");
    if (r.status === 503 || r.status === 501) {
      let msg = "HTTP " + r.status;
      try { msg = (await r.json()).error.message; } catch (e) { /* keep the status */ }
      if (r.status === 501) return { off: msg };
      return { wait: msg, retry: Math.max(2, Number(r.headers.get("Retry-After")) || 2) };
    }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return { data: await r.json() };
  }

  async function loadReport(p, gen) {
    const spec = REPORTS[p];
    if (!state.catalog) {
      const c = await getJSON("/v1/actions").catch(() => ({}));
      if (c.data) state.catalog = c.data;
    }
    const res = await Promise.all(spec.paths.map(getReport));
    if (gen !== generation) return REPORT_REFRESH_MS; // the page changed meanwhile
    document.getElementById("login").hidden = true;
    document.getElementById("error").hidden = true;
    document.getElementById("live-dot").className = "dot live";
    const host = p + "-body";
    const off = res.find((r) => r.off);
    if (off) {
      set(host, el("p", { class: "empty", "data-k": p + ".off" }, "This service does not compute the reports: " + off.off + "."));
      document.body.dataset.state = "off";
      return 10 * REPORT_REFRESH_MS;
    }
    const wait = res.find((r) => r.wait);
    if (wait) {
      set(host, el("p", { class: "empty", "data-k": p + ".wait" }, "The report is being computed from the journal (" + wait.wait + "); this page shows it as soon as it is ready."));
      document.body.dataset.state = "computing";
      return wait.retry * 1000;
    }
    spec.render(host, p, ...res.map((r) => r.data));
    set("updated", "Updated " + fmtTime(new Date()));
    ready();
    return REPORT_REFRESH_MS;
  }

  // headlineBox shows a report's opening lines: what matters, in words.
  // A line "Topic: what" shows the topic in bold.
  function headlineBox(key, lines) {
    return el("div", { class: "verdict report-head" }, el("ul", {}, ...(lines || []).map((l, i) => {
      const k = key + ".headline." + i;
      const cut = l.indexOf(": ");
      if (cut > 0 && cut < 60) {
        return el("li", {}, el("b", { "data-k": k + ".head" }, l.slice(0, cut + 1)), " ", el("span", { "data-k": k + ".text" }, l.slice(cut + 2)));
      }
      return el("li", {}, el("span", { "data-k": k + ".text" }, l));
    })));
  }

  // reportMeta says when the report was computed, what of the journal it
  // covers, and offers to compute it again.
  function reportMeta(key, a) {
    const every = a.every_seconds ? "computed again every " + fmtDuration(a.every_seconds) : "computed again only when asked";
    const status = el("span", { class: "muted refresh-status" });
    const button = el("button", { type: "button", class: "refresh" }, "Recompute now");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const r = await getReport(a.name === "attribution" ? "/v1/reports/attribution?refresh=1" : "/v1/reports/" + a.name + "?refresh=1");
        const st = r.data ? r.data.refresh : "";
        status.textContent = st === "too_soon" ? " Computed less than a minute ago: try again shortly." :
          st === "running" ? " Being computed now; the page shows it when ready." : " Computing; the page shows it when ready.";
        if (st !== "too_soon") {
          // look again soon: the new result replaces the page
          clearTimeout(timer);
          timer = setTimeout(tick, 3000);
        }
      } catch (e) {
        status.textContent = " " + e.message;
      } finally {
        setTimeout(() => { button.disabled = false; }, 3000);
      }
    });
    return el("div", { class: "report-meta" },
      el("span", { hidden: "", "data-k": key + ".computed_at" }, a.computed_at || ""),
      el("span", {}, "Computed " + fmtDate(a.computed_at) + " from the journal up to record ",
        num("span", key + ".journal_lsn", a.journal_lsn), " (" + fmtNum(a.took_seconds, 2) + " s); " + every + ". "),
      button, status,
      a.last_error ? el("p", { class: "check bad", "data-k": key + ".last_error" },
        "The last computation failed (" + fmtDate(a.last_error.at) + ": " + a.last_error.message + "); this is the one before it.") : null);
  }

  function fmtDuration(sec) {
    if (sec % 3600 === 0) return (sec / 3600) + (sec === 3600 ? " hour" : " hours");
    if (sec % 60 === 0) return (sec / 60) + (sec === 60 ? " minute" : " minutes");
    return sec + " s";
  }

  // fmtMoney: amounts of 100 and more whole, smaller ones with cents.
  function fmtMoney(x) {
    if (x === undefined || x === null || !isFinite(x)) return "–";
    if (Math.abs(x) >= 100) return fmtInt(x);
    return fmtNum(x, 2);
  }

  // numCell shows a number formatted by f, tagged with key.
  function numCell(tag, key, v, f, cls) {
    return el(tag, { "data-k": key, class: cls || null }, f(v));
  }

  // rateCell shows a rate with its interval: estimate (lo to hi), each
  // tagged (key, key.lo, key.hi).
  function rateCell(key, r, cls) {
    if (!r) return el("td", {}, "–");
    return el("td", { class: "iv " + (cls || "") },
      el("span", { "data-k": key }, fmtPct(r.estimate)), " ",
      el("span", { class: "ci" }, "(", el("span", { "data-k": key + ".lo" }, fmtPct(r.lo)), " to ",
        el("span", { "data-k": key + ".hi" }, fmtPct(r.hi)), ")"));
  }

  function kpiBox(label, value) {
    return el("div", { class: "kpi" }, el("div", { class: "kpi-label" }, label), el("div", { class: "kpi-value" }, value));
  }

  function table(head, rows, foot, cls) {
    return el("div", { class: "scroll" }, el("table", { class: "numbers " + (cls || "wide") },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows),
      foot ? el("tfoot", {}, foot) : null));
  }

  function emptyReport(host, key, a) {
    set(host, headlineBox(key, a.headline), reportMeta(key, a));
  }

  // ---- campaigns and channels ----------------------------------------

  // rowCells are the cells of one campaigns.Row: impressions, customers,
  // clicks (when the report has click types), conversions, the rate with
  // its interval, revenue; key prefixes their tags.
  function rowCells(key, r, clicks, compact) {
    return [
      num("td", key + ".impressions", r.impressions),
      num("td", key + ".customers", r.customers),
      clicks ? num("td", key + ".clicks", r.clicks) : null,
      clicks ? rateCell(key + ".click_rate", r.click_rate) : null,
      num("td", key + ".conversions", r.conversions),
      rateCell(key + ".conversion_rate", r.conversion_rate),
      numCell("td", key + ".revenue", r.revenue, fmtMoney),
      compact ? null : numCell("td", key + ".revenue_per_impression", r.revenue_per_impression, (v) => fmtNum(v, 2)),
    ].filter(Boolean);
  }
  function rowHead(clicks, compact) {
    return ["Impressions", "Customers", clicks ? "Clicks" : null, clicks ? "Click rate (95%)" : null,
      "Conversions", "Conversion rate (95% interval)", "Revenue", compact ? null : "Revenue / impression"].filter(Boolean);
  }

  function renderCampaigns(host, key, a) {
    const r = a.report;
    if (!r) return emptyReport(host, key, a);
    const clicks = (r.click_types || []).length > 0;
    const t = r.total;
    const kpis = el("section", { class: "kpis" },
      kpiBox("Decisions", num("span", key + ".total.decisions", t.decisions)),
      kpiBox("Impressions", num("span", key + ".total.impressions", t.impressions)),
      kpiBox("Conversions", num("span", key + ".total.conversions", t.conversions)),
      kpiBox("Conversion rate", numCell("span", key + ".total.conversion_rate", t.conversion_rate.estimate, fmtPct)),
      kpiBox("Revenue", numCell("span", key + ".total.revenue", t.revenue, fmtMoney)));
    const rows = r.actions.map((x) => {
      const name = actionName(x.key);
      return el("tr", { "data-action": x.key },
        el("td", {}, el("span", {}, x.key), name ? el("span", { class: "action-desc" }, " · " + name) : null),
        ...rowCells(key + ".action." + x.key, x, clicks));
    });
    const foot = el("tr", {}, el("td", {}, "All campaigns"), ...rowCells(key + ".total", t, clicks));
    const chartRows = r.actions.map((x) => ({ label: x.key, iv: { est: x.conversion_rate.estimate, lo: x.conversion_rate.lo, hi: x.conversion_rate.hi } }));
    set(host,
      headlineBox(key, a.headline),
      reportMeta(key, a),
      kpis,
      el("h3", {}, "Campaigns"),
      el("p", { class: "hint" }, "An impression is an action returned by a decision; a conversion an impression whose customer converted within the attribution window. The interval counts each customer once (a customer shown a campaign ten times is not ten independent trials)."),
      table(["Action", ...rowHead(clicks)], rows, foot),
      el("h4", {}, "Conversion rate by campaign, " + Math.round(r.level * 100) + "% interval"),
      el("div", { class: "chart fixed" }, intervalChart(chartRows, (v) => fmtPct(v), false, 160)),
      liftSection(key, r, "action"),
      seriesSection(key, r));
  }

  // liftSection shows the lift against the holdout: over every customer,
  // and per action or per channel (dim).
  function liftSection(key, r, dim) {
    const l = r.lift;
    if (!l) {
      return el("div", {}, el("h3", {}, "Lift against the holdout"),
        el("p", { class: "empty", "data-k": key + ".lift.none" }, "No permanent holdout runs, so the programme's lift is not measured: configure an experiment with holdout: true (docs/loop.md)."));
    }
    const rows = (l.rows || []).filter((x) => x.by === "all" || x.by === dim);
    const lk = (x) => key + ".lift." + x.by + "." + x.key;
    const body = rows.map((x) => {
      const dir = x.absolute.lo > 0 ? "pos" : x.absolute.hi < 0 ? "neg" : "";
      return el("tr", {},
        el("td", {}, x.by === "all" ? el("strong", {}, "All customers") : x.key),
        num("td", lk(x) + ".treated.customers", x.treated.customers),
        rateCell(lk(x) + ".treated.rate", x.treated.conversion_rate),
        num("td", lk(x) + ".baseline.customers", x.baseline.customers),
        rateCell(lk(x) + ".baseline.rate", x.baseline.conversion_rate),
        el("td", { class: "iv " + dir },
          el("span", { "data-k": lk(x) + ".difference" }, fmtPoints(x.absolute.estimate)), " ",
          el("span", { class: "ci" }, "(", el("span", { "data-k": lk(x) + ".difference.lo" }, fmtPoints(x.absolute.lo)), " to ",
            el("span", { "data-k": lk(x) + ".difference.hi" }, fmtPoints(x.absolute.hi)), ")")),
        relativeCell(lk(x) + ".relative", x.relative));
    });
    const treated = (rows[0] && rows[0].arm) || "programme";
    const chart = rows.map((x) => ({ label: x.by === "all" ? "all" : x.key, iv: { est: x.absolute.estimate, lo: x.absolute.lo, hi: x.absolute.hi } }));
    return el("div", {},
      el("h3", {}, "Lift against the holdout '" + l.experiment + "'"),
      el("p", { class: "hint" }, "Customers are the unit: '" + treated + "' (the programme) against '" + l.baseline + "' (held out, shown nothing). A customer converts with a purchase or converting outcome from their first decision to " +
        fmtNum(l.window_days, 0) + " days after their last. " + (dim === "action" ? "Per action, the customers for whom it was eligible, shown or not." : "Per channel, the customers with a decision there.") +
        " The difference is in percentage points; its interval decides whether the lift is clear."),
      table([dim === "action" ? "Customers" : "Channel", treated + ": customers", "converted", l.baseline + ": customers", "converted", "Difference (points, 95%)", "Relative lift"], body),
      el("h4", {}, "Difference in conversion, points, 95% interval"),
      el("div", { class: "chart fixed" }, intervalChart(chart, fmtPoints, true, 160)));
  }

  // relativeCell shows a relative lift with its interval; "–" when it is
  // undefined (nobody converted in the baseline).
  function relativeCell(key, r) {
    if (!r || (r.method || "").startsWith("undefined") || !isFinite(r.estimate)) {
      return el("td", { class: "zero", title: "undefined: nobody in the baseline converted" }, "–");
    }
    const dir = r.lo > 0 ? "pos" : r.hi < 0 ? "neg" : "";
    return el("td", { class: "iv " + dir },
      el("span", { "data-k": key }, fmtPct(r.estimate, true)), " ",
      el("span", { class: "ci" }, "(", el("span", { "data-k": key + ".lo" }, fmtPct(r.lo, true)), " to ",
        el("span", { "data-k": key + ".hi" }, fmtPct(r.hi, true)), ")"));
  }

  function fmtPoints(x) {
    if (x === undefined || x === null || !isFinite(x)) return "–";
    const v = (x * 100).toFixed(1);
    if (Number(v) === 0) return "0.0";
    return (x > 0 ? "+" : MINUS) + v.replace("-", "");
  }

  // seriesSection: all decisions per period, impressions drawn as bars.
  function seriesSection(key, r) {
    const rows = (r.series || []).filter((x) => x.by === "all");
    if (!rows.length) return null;
    const bars = rows.map((x) => ({ label: x.period, segments: [{ value: x.impressions, color: PALETTE[0] }] }));
    const body = rows.map((x) => el("tr", {}, el("td", {}, x.period),
      num("td", key + ".series." + x.period + ".decisions", x.decisions),
      ...rowCells(key + ".series." + x.period, x, false).slice(0, 4),
      numCell("td", key + ".series." + x.period + ".revenue", x.revenue, fmtMoney)));
    return el("div", {},
      el("h3", {}, "By " + (r.period === "week" ? "week" : "day") + " (UTC)"),
      el("div", { class: "chart fixed" }, barChart(bars, { labelWidth: 100, width: 700 })),
      table(["Period", "Decisions", "Impressions", "Customers", "Conversions", "Conversion rate (95% interval)", "Revenue"], body));
  }

  function renderChannels(host, key, a) {
    const r = a.report;
    if (!r) return emptyReport(host, key, a);
    const clicks = (r.click_types || []).length > 0;
    // with an action: the count, and its share of the decisions below it
    const filled = (k, x) => el("td", {}, num("span", k + ".filled", x.filled),
      el("span", { class: "ci" }, " (", numCell("span", k + ".fill_rate", x.decisions ? x.filled / x.decisions : null, (v) => fmtPct(v)), ")"));
    const rows = r.channels.map((x) => el("tr", { "data-channel": x.key },
      el("td", {}, x.key),
      num("td", key + "." + x.key + ".decisions", x.decisions),
      filled(key + "." + x.key, x),
      ...rowCells(key + "." + x.key, x, clicks, true)));
    const t = r.total;
    const foot = el("tr", {}, el("td", {}, "All channels"), num("td", key + ".total.decisions", t.decisions),
      filled(key + ".total", t), ...rowCells(key + ".total", t, clicks, true));
    const fill = r.channels.map((x) => ({ label: x.key, segments: [{ value: x.filled, color: PALETTE[2] }, { value: x.decisions - x.filled, color: "#c9cfd9" }] }));
    const lines = channelLines(a.headline);
    const conv = r.channels.map((x) => ({ label: x.key, iv: { est: x.conversion_rate.estimate, lo: x.conversion_rate.lo, hi: x.conversion_rate.hi } }));
    set(host,
      headlineBox(key, lines),
      reportMeta(key, a),
      table(["Channel", "Decisions", "With an action (fill rate)", ...rowHead(clicks, true)], rows, foot),
      el("div", { class: "grid2 charts" },
        el("div", {}, el("h4", {}, "Decisions with an action (green) and without (grey)"),
          el("div", { class: "chart fixed" }, barChart(fill, { labelWidth: 100, width: 520 }))),
        el("div", {}, el("h4", {}, "Conversion rate by channel, " + Math.round(r.level * 100) + "% interval"),
          el("div", { class: "chart fixed" }, intervalChart(conv, (v) => fmtPct(v), false)))),
      stageSection(key, r),
      liftSection(key, r, "channel"));
  }

  // channelLines are the campaign report's opening lines about channels
  // and the holdout's lift (all of them, when none is).
  function channelLines(lines) {
    const mine = (lines || []).filter((l) => /^(Channels|Lift against)/.test(l));
    return mine.length ? mine : lines;
  }

  // stageSection: each channel's impressions and conversions by the
  // journey stage the decision saw.
  function stageSection(key, r) {
    const cells = (r.breakdowns || []).filter((x) => x.by === "channel" && x.segment === "stage");
    if (!cells.length) return null;
    const stages = [...new Set(cells.map((x) => x.value))];
    const at = {};
    for (const c of cells) at[c.key + "\u0000" + c.value] = c;
    const body = r.channels.map((ch) => el("tr", {}, el("td", {}, ch.key), ...stages.map((sg) => {
      const c = at[ch.key + "\u0000" + sg];
      if (!c) return el("td", { class: "zero" }, "–");
      const k = key + "." + ch.key + ".stage." + sg;
      return el("td", {}, num("span", k + ".conversions", c.conversions), " of ", num("span", k + ".impressions", c.impressions),
        el("span", { class: "ci" }, " (" + fmtPct(c.conversion_rate.estimate) + ")"));
    })));
    return el("div", {}, el("h3", {}, "By journey stage"),
      el("p", { class: "hint" }, "Conversions of impressions, by the stage the customer was in when the channel asked."),
      table(["Channel", ...stages], body));
  }

  // ---- journeys -------------------------------------------------------

  function fmtDays(v) {
    return v === null || v === undefined ? "not yet" : fmtNum(v, 1) + " d";
  }

  function renderJourneys(host, key, a) {
    const r = a.report;
    if (!r) return emptyReport(host, key, a);
    const st = r.stats || {};
    const kpis = el("section", { class: "kpis" },
      kpiBox("Customers followed", num("span", key + ".customers", st.customers)),
      kpiBox("Converted", num("span", key + ".converted", st.converted)),
      kpiBox("Events", num("span", key + ".events", st.events)),
      kpiBox("Decisions", num("span", key + ".decisions", st.decisions)),
      kpiBox("Decisions that showed an action", num("span", key + ".decisions_shown", st.decisions_shown)));
    const funnelRows = r.funnel.map((f) => {
      const k = key + ".funnel." + f.stage;
      return el("tr", {}, el("td", {}, f.stage),
        num("td", k + ".reached", f.reached),
        f.final ? el("td", { class: "zero" }, "–") : num("td", k + ".went_on", f.went_on),
        f.conversion === null ? el("td", { class: "zero" }, "–") : numCell("td", k + ".conversion", f.conversion, (v) => fmtPct(v)),
        f.final ? el("td", { class: "zero" }, "–") : num("td", k + ".next", f.next),
        num("td", k + ".current", f.current),
        num("td", k + ".dropped_off", f.dropped_off));
    });
    const funnelBars = r.funnel.map((f) => ({ label: f.stage, segments: [{ value: f.reached, color: PALETTE[0] }] }));
    const timeRows = (r.time_in_stage || []).map((x) => {
      const k = key + ".time." + x.stage;
      return el("tr", {}, el("td", {}, x.stage), num("td", k + ".stays", x.stays), num("td", k + ".open", x.open),
        el("td", { "data-k": k + ".q1" }, fmtDays(x.q1_days)), el("td", { "data-k": k + ".median" }, fmtDays(x.median_days)),
        el("td", { "data-k": k + ".q3" }, fmtDays(x.q3_days)));
    });
    const pathRows = (r.paths || []).map((x, i) => el("tr", {},
      el("td", { class: "path" }, x.steps.join(" \u2192 ")),
      num("td", key + ".path." + i + ".customers", x.customers),
      numCell("td", key + ".path." + i + ".share", x.share, (v) => fmtPct(v)),
      num("td", key + ".path." + i + ".converted", x.converted)));
    set(host,
      headlineBox(key, a.headline),
      reportMeta(key, a),
      kpis,
      el("div", { class: "grid2" },
        el("div", {}, el("h3", {}, "Stage funnel"),
          el("p", { class: "hint" }, "Reached: customers with a stay in the stage. Went further: of those, who later reached a stage further on. Dropped off: last in the stage and inactive for " + fmtNum(r.inactive_days, 0) + " days before the end of the data."),
          table(["Stage", "Reached", "Went further", "Conversion", "To the next stage", "Last stage of", "Dropped off"], funnelRows)),
        el("div", {}, el("h3", {}, "Customers who reached each stage"),
          el("div", { class: "chart fixed" }, barChart(funnelBars, { labelWidth: 110, width: 440 })))),
      el("h3", {}, "Time in stage"),
      el("p", { class: "hint" }, "Quartiles of how long a stay lasts (Kaplan–Meier: stays still open count as running, not as ended); \"not yet\" when too many stays are still open to know."),
      table(["Stage", "Stays", "Still open", "Quarter leave within", "Half leave within", "Three quarters leave within"], timeRows, null, "narrow"),
      el("h3", {}, "Most frequent paths"),
      el("p", { class: "hint" }, "Each customer's first " + r.steps + " steps: events by type, decisions by what they showed."),
      pathRows.length ? table(["Path", "Customers", "Share", "Converted"], pathRows) : el("p", { class: "empty" }, "No path yet."),
      gapSection(key, r),
      transitionsSection(key, r));
  }

  // gapSection: per stage and channel, the visits that got nothing, as
  // a heat map and a table.
  function gapSection(key, r) {
    const g = r.gaps || {};
    const cells = (g.cells || []).filter((c) => c.visits > 0);
    if (!cells.length) return el("div", {}, el("h3", {}, "Touchpoint gaps"), el("p", { class: "empty" }, "No visit on a channel yet."));
    const rows = cells.map((c) => {
      const k = key + ".gap." + c.stage + "." + c.channel;
      return el("tr", {}, el("td", {}, c.stage), el("td", { class: "left" }, c.channel),
        num("td", k + ".visits", c.visits), num("td", k + ".shown", c.shown), num("td", k + ".eligible_not_shown", c.eligible_not_shown),
        num("td", k + ".none_eligible", c.none_eligible), num("td", k + ".not_asked", c.not_asked),
        num("td", k + ".gap", c.gap), numCell("td", k + ".gap_share", c.gap_share, (v) => fmtPct(v)));
    });
    return el("div", {}, el("h3", {}, "Touchpoint gaps"),
      el("p", { class: "hint" }, "A visit is a stay in a stage during which the customer came on a channel. The gap: visits where no action was eligible, or no decision was asked. Darker is a larger share of visits that got nothing."),
      el("div", { class: "chart fixed" }, heatMap(r.stages, g.channels || [], cells)),
      table(["Stage", "Channel", "Visits", "Shown", "Eligible, not shown", "None eligible", "Not asked", "Gap", "Gap share"], rows));
  }

  function heatMap(stages, channels, cells) {
    const cw = 110, ch = 30, lw = 120, top = 22;
    const W = lw + channels.length * cw + 10, H = top + stages.length * ch + 6;
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    channels.forEach((c, j) => svg.append(svgEl("text", { x: lw + j * cw + cw / 2, y: 15, "text-anchor": "middle", "font-size": 12, fill: "#5b6577" }, c)));
    const at = {};
    for (const c of cells) at[c.stage + "\u0000" + c.channel] = c;
    stages.forEach((s, i) => {
      const y = top + i * ch;
      svg.append(svgEl("text", { x: lw - 8, y: y + ch / 2 + 4, "text-anchor": "end", "font-size": 12, fill: "#1d2433" }, s));
      channels.forEach((c, j) => {
        const x = lw + j * cw, cell = at[s + "\u0000" + c];
        if (!cell) {
          svg.append(svgEl("rect", { x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, fill: "#f4f6f9" }));
          return;
        }
        const share = cell.gap_share;
        const fill = "rgb(" + Math.round(253 - share * 73) + "," + Math.round(236 - share * 201) + "," + Math.round(234 - share * 210) + ")";
        const rect = svgEl("rect", { x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, fill, rx: 3 });
        rect.append(svgEl("title", {}, s + " on " + c + ": " + cell.gap + " of " + cell.visits + " visits got nothing"));
        svg.append(rect);
        svg.append(svgEl("text", { x: x + cw / 2, y: y + ch / 2 + 4, "text-anchor": "middle", "font-size": 11.5, fill: share > 0.6 ? "#fff" : "#1d2433" },
          fmtPct(share) + " of " + fmtInt(cell.visits)));
      });
    });
    return svg;
  }

  function transitionsSection(key, r) {
    const tr = r.transitions;
    if (!tr || !tr.rows || !tr.rows.length) return null;
    const body = tr.rows.map((row, i) => el("tr", {}, el("td", {}, row),
      ...tr.columns.map((col, j) => num("td", key + ".transition." + row + "." + col, tr.counts[i][j]))));
    return el("details", { class: "segments" }, el("summary", {}, "Moves between stages (rows: from; columns: to)"),
      table(["From \\ to", ...tr.columns], body));
  }

  // ---- CLV ------------------------------------------------------------

  function renderCLV(host, key, a) {
    const r = a.report || {};
    const b = r.base;
    const parts = [headlineBox(key, a.headline), reportMeta(key, a)];
    if (r.purchase_histories) {
      parts.push(el("section", { class: "kpis" },
        kpiBox("Customers with a purchase", num("span", key + ".buyers", r.customers_with_purchases)),
        kpiBox("Bought again", num("span", key + ".repeat_buyers", r.repeat_buyers)),
        kpiBox("Expected value", b ? numCell("span", key + ".total_clv", b.total_clv, fmtMoney) : "–"),
        kpiBox("Per customer", b ? numCell("span", key + ".mean_clv", b.mean_clv, fmtMoney) : "–"),
        kpiBox("Likely active (P(alive) ≥ 0.5)", b ? num("span", key + ".likely_alive", b.likely_alive) : "–")));
    }
    if (r.model) parts.push(modelFacts(key, r.model));
    if (b && b.customers) {
      parts.push(el("div", { class: "grid2 charts" },
        el("div", {}, el("h3", {}, "How the value spreads"),
          el("p", { class: "hint" }, "Customers by their expected value over the next " + fmtNum(b.horizon_weeks, 0) + " weeks; the top tenth hold ",
            numCell("span", key + ".top_decile_share", b.top_decile_share, (v) => fmtPct(v)), " of the value."),
          el("div", { class: "chart" }, histogram(b.clv_distribution.bins, (x) => fmtMoney(x.lo) + "–" + fmtMoney(x.hi))),
          quantileLine(key + ".clv", b.clv_distribution, fmtMoney)),
        el("div", {}, el("h3", {}, "Probability still active"),
          el("p", { class: "hint" }, "Mean P(alive) ", numCell("span", key + ".mean_p_alive", b.mean_p_alive, (v) => fmtNum(v, 2)),
            ". One-time buyers always count as active in this model (customers drop out only after a repeat purchase): the bar at 1 holds them."),
          el("div", { class: "chart" }, histogram(b.p_alive_distribution.bins, (x) => fmtNum(x.lo, 1) + "–" + fmtNum(x.hi, 1))),
          quantileLine(key + ".p_alive", b.p_alive_distribution, (v) => fmtNum(v, 2)))));
      const rows = b.clv_distribution.bins.map((x, i) => el("tr", {},
        el("td", {}, fmtMoney(x.lo) + " to " + fmtMoney(x.hi)),
        num("td", key + ".bin." + i + ".customers", x.customers),
        numCell("td", key + ".bin." + i + ".clv", x.clv, fmtMoney),
        numCell("td", key + ".bin." + i + ".share", b.total_clv > 0 ? x.clv / b.total_clv : null, (v) => fmtPct(v))));
      parts.push(el("details", { class: "segments" }, el("summary", {}, "The value by band"),
        table(["Expected value", "Customers", "Their value", "Share of the value"], rows, null, "narrow")));
    }
    set(host, ...parts);
  }

  function modelFacts(key, m) {
    const f = (v) => fmtNum(v, 4);
    const facts = [
      ["Purchases (BG/NBD)", ["r", "alpha", "a", "b"]],
      ["Spend (Gamma-Gamma)", ["p", "q", "gamma"]],
    ].map(([label, names]) => [label, el("span", {}, ...names.flatMap((n, i) => [i ? ", " : "", n === "alpha" ? "α" : n === "gamma" ? "γ" : n, " = ",
      numCell("span", key + ".model." + n, m[n], f)]))]);
    facts.push(["Horizon", el("span", {}, numCell("span", key + ".model.horizon_weeks", m.horizon_weeks, (v) => fmtNum(v, 0)), " weeks in steps of ",
      numCell("span", key + ".model.step_weeks", m.step_weeks, (v) => fmtNum(v, 2)), " weeks, discounted at ",
      numCell("span", key + ".model.annual_discount", m.annual_discount, (v) => fmtPct(v)), " a year")]);
    facts.push(["Version", el("code", { "data-k": key + ".model.version" }, m.version || "–")]);
    return el("div", {}, el("h3", {}, "The model"),
      el("p", { class: "hint" }, "Fitted offline (nextbest clv fit) and loaded with PUT /admin/clv; time in weeks."),
      el("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  }

  function quantileLine(key, d, f) {
    const q = [["10%", "p10"], ["25%", "q1"], ["median", "median"], ["75%", "q3"], ["90%", "p90"], ["largest", "max"]];
    return el("p", { class: "hint small" }, ...q.flatMap(([label, k], i) => [i ? " · " : "", label + " ", numCell("span", key + "." + k, d[k], f)]));
  }

  // histogram draws vertical bars of bins' customers, labelled by label.
  function histogram(bins, label) {
    const W = 600, H = 230, left = 44, bottom = 44, top = 16;
    const n = bins.length || 1, bw = (W - left - 10) / n;
    let max = 0;
    for (const b of bins) max = Math.max(max, b.customers);
    const ticks = max > 0 ? niceTicks(0, max, 4) : [0];
    const hi = Math.max(max, ticks[ticks.length - 1] || 1);
    const sy = (v) => H - bottom - (v / hi) * (H - bottom - top);
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    for (const v of ticks) {
      svg.append(svgEl("line", { x1: left, x2: W - 10, y1: sy(v), y2: sy(v), stroke: "#e6e9ef" }));
      svg.append(svgEl("text", { x: left - 6, y: sy(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6577" }, fmtInt(v)));
    }
    bins.forEach((b, i) => {
      const x = left + i * bw;
      const rect = svgEl("rect", { x: x + 2, y: sy(b.customers), width: Math.max(bw - 4, 1), height: Math.max(H - bottom - sy(b.customers), 0), fill: PALETTE[0] });
      rect.append(svgEl("title", {}, label(b) + ": " + fmtInt(b.customers) + " customers"));
      svg.append(rect);
      if (b.customers > 0) svg.append(svgEl("text", { x: x + bw / 2, y: sy(b.customers) - 4, "text-anchor": "middle", "font-size": 10.5, fill: "#1d2433" }, fmtInt(b.customers)));
      const tx = x + bw / 2, ty = H - bottom + 12;
      svg.append(svgEl("text", { x: tx, y: ty, "text-anchor": "end", "font-size": 10, fill: "#5b6577", transform: "rotate(-35 " + tx + " " + ty + ")" }, label(b)));
    });
    return svg;
  }

  // ---- attribution ----------------------------------------------------

  const MODEL_TITLE = {
    last_touch: "Last touch", first_touch: "First touch", linear: "Linear",
    time_decay: "Time decay", position_based: "Position-based", markov: "Markov (data-driven)",
  };

  function renderAttribution(host, key, byChannel, byAction) {
    const r = byChannel.report;
    if (!r) return emptyReport(host, key, byChannel);
    const kpis = el("section", { class: "kpis" },
      kpiBox("Conversions", num("span", key + ".conversions", r.conversions)),
      kpiBox("Credited (a touch before)", num("span", key + ".attributed", r.attributed_conversions)),
      kpiBox("Revenue credited", numCell("span", key + ".attributed_revenue", r.attributed_revenue, fmtMoney)),
      kpiBox("Customers", num("span", key + ".journeys", r.journeys)),
      kpiBox("Touches", num("span", key + ".touches", r.touches)));
    set(host,
      headlineBox(key, byChannel.headline),
      reportMeta(key, byChannel),
      kpis,
      creditSection(key + ".channel", "channel", r),
      byAction.report ? el("div", {}, el("h3", { class: "section" }, "By action"),
        headlineBox(key + ".action", byAction.headline),
        creditSection(key + ".action", "action", byAction.report)) : null,
      el("p", { class: "hint small" }, "Lookback " + fmtNum(r.lookback_days, 0) + " days; time decay halves every " + fmtNum(r.half_life_days, 0) +
        " days; position-based gives 40% to the first and the last touch and 20% to those between. See docs/attribution.md."));
  }

  function creditSection(key, dim, r) {
    const models = r.models.map((m) => m.model);
    const rows = r.keys.map((k, i) => el("tr", {}, el("td", {}, k),
      ...r.models.map((m) => {
        const c = m.credits[i], kk = key + "." + k + "." + m.model;
        return el("td", { class: "iv" }, numCell("span", kk + ".share", c.share, (v) => fmtPct(v)), " ",
          el("span", { class: "ci" }, numCell("span", kk + ".conversions", c.conversions, (v) => fmtNum(v, 1)), " · ",
            numCell("span", kk + ".revenue", c.revenue, fmtMoney)));
      })));
    const mk = r.markov || {};
    const re = mk.removal_effects || {};
    const removal = r.keys.map((k) => el("tr", {}, el("td", {}, k),
      numCell("td", key + "." + k + ".removal", re[k], (v) => fmtNum(v, 3)),
      numCell("td", key + "." + k + ".without", mk.conversion_probability * (1 - (re[k] || 0)), (v) => fmtNum(v, 3))));
    return el("div", {},
      el("h3", {}, "Share of conversions by " + dim + " and model"),
      el("div", { class: "legend" }, ...models.map((m, i) => el("span", {}, el("span", { class: "sw c" + (i % PALETTE.length) }), MODEL_TITLE[m] || m))),
      el("div", { class: "chart fixed" }, groupedBars(r, 12)),
      table([dim === "channel" ? "Channel" : "Action", ...models.map((m) => MODEL_TITLE[m] || m)], rows),
      el("p", { class: "hint small" }, "Each cell: the share of the " + fmtInt(r.attributed_conversions) + " credited conversions, then the conversions and the revenue credited."),
      el("details", { class: "segments" }, el("summary", {}, "The Markov chain: removal effects"),
        el("p", { class: "hint" }, "P(conversion) from the start of a path: ", numCell("span", key + ".markov.conversion", mk.conversion_probability, (v) => fmtNum(v, 3)),
          ". A " + dim + "'s removal effect is the share of it lost when its touches lead nowhere."),
        table([dim === "channel" ? "Channel" : "Action", "Removal effect", "P(conversion) without it"], removal, null, "narrow")));
  }

  // groupedBars: per key (the first n), one bar per model, its share.
  function groupedBars(r, n) {
    const keys = r.keys.slice(0, n), models = r.models;
    const W = 900, L = 170, R = 60, T = 8, barH = 9, gap = 12;
    const groupH = barH * models.length + gap;
    const H = T + groupH * keys.length + 26;
    let hi = 0.05;
    for (const m of models) for (const c of m.credits.slice(0, n)) hi = Math.max(hi, c.share);
    hi = Math.min(1, Math.ceil(hi * 10) / 10);
    const sx = (v) => L + (W - L - R) * v / hi;
    const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: W, height: H });
    for (let k = 0; k <= 4; k++) {
      const v = hi * k / 4;
      svg.append(svgEl("line", { x1: sx(v), x2: sx(v), y1: T - 4, y2: H - 22, stroke: "#e6e9ef" }));
      svg.append(svgEl("text", { x: sx(v), y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#5b6577" }, fmtPct(v).replace(/\.0%$/, "%")));
    }
    keys.forEach((k, i) => {
      const y0 = T + groupH * i;
      svg.append(svgEl("text", { x: L - 8, y: y0 + barH * models.length / 2 + 4, "text-anchor": "end", "font-size": 12, fill: "#1d2433" }, k));
      models.forEach((m, mi) => {
        const c = m.credits[i];
        const rect = svgEl("rect", { x: L, y: y0 + barH * mi, width: Math.max(sx(c.share) - L, 0.5), height: barH - 1, fill: PALETTE[mi % PALETTE.length] });
        rect.append(svgEl("title", {}, k + ", " + (MODEL_TITLE[m.model] || m.model) + ": " + fmtPct(c.share)));
        svg.append(rect);
      });
    });
    svg.append(svgEl("line", { x1: L, x2: L, y1: T - 4, y2: H - 22, stroke: "#8a93a3" }));
    return svg;
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireLogin();
    window.addEventListener("hashchange", () => {
      document.body.dataset.state = "loading";
      tick();
    });
    tick();
  });
})();
