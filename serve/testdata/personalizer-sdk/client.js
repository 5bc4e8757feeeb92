// client.js ENDPOINT KEY: drives the official Azure Personalizer client SDK
// for JavaScript (@azure/cognitiveservices-personalizer, vendored under
// node_modules/) against a Personalizer endpoint, unchanged: rank, reward,
// activate, a replay of an event id, an event id that needs escaping, and
// calls the service must refuse. It prints what the SDK returned, as JSON,
// for serve's TestPersonalizerSDK to check. With NEXTBEST_SDK_LOADED set,
// it also writes there the files Node loaded (vendor.sh keeps those).
"use strict";

const fs = require("fs");
const { PersonalizerClient } = require("@azure/cognitiveservices-personalizer");
const { ApiKeyCredentials } = require("@azure/ms-rest-js");

async function main() {
  const [endpoint, key] = process.argv.slice(2);
  const client = new PersonalizerClient(
    new ApiKeyCredentials({ inHeader: { "Ocp-Apim-Subscription-Key": key } }), endpoint);
  const actions = [
    { id: "NewsArticle", features: [{ type: "News" }] },
    { id: "SportsArticle", features: [{ type: "Sports", editor: { name: "Ann", pick: true } }] },
    { id: "EntertainmentArticle", features: [{ type: "Entertainment" }] },
  ];
  const contextFeatures = [{ timeOfDay: "Morning" }, { user: { profileType: "AnonymousUser", visits: 3 } }];
  const out = { errors: {} };

  out.rank = await client.rank({ contextFeatures, actions, excludedActions: ["SportsArticle"] });
  await client.events.reward(out.rank.eventId, { value: 1 });

  out.deferred = await client.rank({ contextFeatures, actions, eventId: "sdk-deferred", deferActivation: true });
  await client.events.reward("sdk-deferred", { value: 0.5 });
  await client.events.activate("sdk-deferred");
  out.replay = await client.rank({ contextFeatures, actions, eventId: "sdk-deferred", deferActivation: true });

  out.escaped = await client.rank({ actions, eventId: "sdk/with slash?&#" });
  await client.events.reward("sdk/with slash?&#", { value: -0.5 });

  const many = Array.from({ length: 51 }, (_, i) => ({ id: "a" + i, features: [{ i }] }));
  for (const [name, call] of [
    ["reward out of range", () => client.events.reward(out.rank.eventId, { value: 2 })],
    ["reward of an unknown event", () => client.events.reward("sdk-never-ranked", { value: 1 })],
    ["activate an unknown event", () => client.events.activate("sdk-never-ranked")],
    ["rank of 51 actions", () => client.rank({ actions: many })],
    ["rank with every action excluded", () => client.rank({ actions, excludedActions: actions.map((a) => a.id) })],
  ]) {
    try {
      await call();
      out.errors[name] = { statusCode: 0 };
    } catch (e) {
      out.errors[name] = { statusCode: e.statusCode, code: e.code, message: e.message };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main()
  .catch((e) => {
    console.error("client.js:", e.statusCode, e.code, e.message);
    process.exitCode = 1;
  })
  .finally(() => {
    if (process.env.NEXTBEST_SDK_LOADED) {
      const files = Object.keys(require.cache).filter((f) => f.startsWith(__dirname + "/node_modules/"));
      fs.writeFileSync(process.env.NEXTBEST_SDK_LOADED, files.map((f) => f.slice(__dirname.length + 1)).join("\n") + "\n");
    }
    // the SDK's HTTP agent keeps its connections alive, and with them
    // the process: exit (writes to a pipe are synchronous on Linux)
    process.exit();
  });
