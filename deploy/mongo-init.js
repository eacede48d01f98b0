// Runs once, as the root user, when the mongo image initialises an empty data volume.
// Each component gets only what it needs on the RAW database (MONGO_DB):
//   the ETL reads (find, change streams: the built-in "read" role);
//   the Aviasales proxy inserts into its request log (and creates its indexes), nothing else;
//   the generator, an imitation of the outside site, reads and writes (built-in "readWrite").
// Root is used by nothing but this script and the server's health check.
const raw = process.env.MONGO_DB || "raw";
const admin = db.getSiblingDB("admin");
admin.createRole({
  role: "proxyRequestLog",
  privileges: [
    { resource: { db: raw, collection: "aviasales_requests" }, actions: ["insert", "createIndex"] },
  ],
  roles: [],
});
admin.createUser({
  user: process.env.MONGO_ETL_USER,
  pwd: process.env.MONGO_ETL_PASSWORD,
  roles: [{ role: "read", db: raw }],
});
admin.createUser({
  user: process.env.MONGO_PROXY_USER,
  pwd: process.env.MONGO_PROXY_PASSWORD,
  roles: [{ role: "proxyRequestLog", db: "admin" }],
});
admin.createUser({
  user: process.env.MONGO_GENERATOR_USER,
  pwd: process.env.MONGO_GENERATOR_PASSWORD,
  roles: [{ role: "readWrite", db: raw }],
});
