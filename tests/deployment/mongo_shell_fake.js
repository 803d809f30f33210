// A fake of the bits of the mongo shell the chart's init.js uses, to run it under node.
// argv: <script> <state.json> <legacy|mongosh>. Reads and writes the fake server's state.
const fs = require("fs");
const [scriptPath, statePath, flavour] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const legacy = flavour === "legacy";
function fail(code, errmsg) {
  if (legacy) return { ok: 0, code, errmsg };
  const e = new Error(errmsg); e.code = code; throw e;
}
global.db = {
  adminCommand(doc) {
    if ("replSetGetStatus" in doc) {
      return state.config ? { ok: 1, set: state.config._id } : fail(94, "no replset config");
    }
    if ("replSetInitiate" in doc) {
      if (state.config) return fail(23, "already initialized");
      state.config = doc.replSetInitiate; state.initiations = (state.initiations || 0) + 1;
      return { ok: 1 };
    }
    if ("hello" in doc) return { ok: 1, isWritablePrimary: !!state.config };
    if ("isMaster" in doc) return { ok: 1, ismaster: !!state.config };
    return fail(59, "no such command");
  },
  getSiblingDB(name) {
    if (name !== "admin") throw new Error("users belong in admin");
    return {
      getUser(user) { return state.users[user] ? { user } : null; },
      createUser(u) {
        if (state.users[u.user]) throw new Error("duplicate user");
        state.users[u.user] = { pwd: u.pwd, roles: u.roles };
      },
      updateUser(user, u) { state.users[user] = { pwd: u.pwd, roles: u.roles }; },
    };
  },
};
global.tojson = JSON.stringify;
global.print = (...args) => console.log(...args);
global.sleep = () => {};
state.users = state.users || {};
eval(fs.readFileSync(scriptPath, "utf8"));
fs.writeFileSync(statePath, JSON.stringify(state));
