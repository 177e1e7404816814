// The `sira` binary: serve, init, token, audit verify, backup, restore, version.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>

#include "alerts/config.h"
#include "app/app.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "signals/parse.h"
#include "store/sqlite.h"

namespace fs = std::filesystem;
using namespace sira;

namespace {

SystemClock g_clock;

int die(const std::string& msg, int code = 2) {
  std::cerr << "sira: " << msg << "\n";
  return code;
}

Result<auth::Tenant> pick_tenant(app::Context& ctx, const std::string& tenant) {
  if (!tenant.empty()) return ctx.auth->find_tenant(tenant);
  auto sys = SIRA_TRY(ctx.auth->system_tenant());
  if (!sys) return fail(ErrorCode::kNotFound, "data directory is not initialised");
  return *sys;
}

Result<std::unique_ptr<app::Context>> open_existing(const std::string& data) {
  app::OpenOptions o;
  o.read_connections = 1;
  return app::open_context(data, g_clock, o);
}

std::vector<auth::Role> parse_roles(const std::string& csv, std::string* bad) {
  std::vector<auth::Role> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto r = auth::parse_role(item);
    if (!r) {
      *bad = item;
      return {};
    }
    out.push_back(*r);
  }
  return out;
}

int run_verify(const std::string& data, const std::string& tenant, bool quiet = false) {
  app::DataPaths paths(data);
  if (!fs::exists(paths.database)) return die("no sira database in " + data);
  store::SqliteOptions so;
  so.path = paths.database;
  so.read_connections = 1;
  auto db = store::open_sqlite(so);
  if (!db) return die(db.error().detail);
  if (auto st = store::check_schema(**db, app::all_migrations()); !st) return die(st.error().detail);
  auto signer = audit::Signer::load(paths.signing_key);
  if (!signer) return die(signer.error().detail);
  auto tenants = auth::AuthService::tenant_ids(**db);
  if (!tenants) return die(tenants.error().detail);
  auto reports = audit::verify_store(**db, signer->public_key_raw(), tenant, *tenants);
  if (!reports) return die(reports.error().detail);
  int bad = 0;
  for (const auto& r : *reports) {
    if (r.ok) {
      if (!quiet)
        std::cout << "tenant " << r.tenant_id << ": ok, " << r.entries << " entries, signed tree size "
                  << (r.head ? r.head->tree_size : 0) << "\n";
    } else {
      ++bad;
      std::cout << "tenant " << r.tenant_id << ": FAILED at index " << r.first_bad_index << ": "
                << r.reason << "\n";
    }
  }
  if (bad) {
    std::cerr << "sira: audit verification failed for " << bad << " tenant(s)\n";
    return 1;
  }
  if (!quiet) std::cout << "audit log verified: " << reports->size() << " tenant(s) ok\n";
  return 0;
}

// VmHWM of this process, in KiB (0 when /proc is unavailable).
int64_t peak_rss_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  int64_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::strtoll(line + 6, nullptr, 10);
  std::fclose(f);
  return kib;
}

int run_ingest(const std::string& data, const std::string& tenant, const std::string& file,
               const std::string& format_name, const std::string& config_path) {
  signals::Format format;
  if (!signals::parse_format(format_name, &format)) return die("--format must be ndjson, nginx or envoy");
  if (app::DataLock::held_by_other(app::DataPaths(data)))
    return die("a sira server is running on " + data +
               "; send the records to it with POST /api/v1/signals/requests");
  auto config = load_config(config_path, environment_map(), {});
  if (!config) return die("bad configuration: " + config.error().detail);
  if (auto st = app::check_config(*config); !st) return die("bad configuration: " + st.error().detail);
  app::OpenOptions o;
  o.read_connections = 1;
  o.guard = app::guard_config(*config);
  auto ctx = app::open_context(data, g_clock, o);
  if (!ctx) return die(ctx.error().detail);
  auto t = pick_tenant(**ctx, tenant);
  if (!t) return die(t.error().detail);

  std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (!in) return die("cannot open " + file);
  // Chunks end on a line boundary; the tail of a chunk is carried into the next.
  constexpr size_t kChunk = 8 << 20;
  std::string buf;
  buf.reserve(kChunk * 2);
  int64_t line = 1, lines = 0, records = 0, rejected = 0, detections = 0, actions = 0;
  std::map<std::string, int64_t> reasons;
  std::vector<std::pair<int64_t, std::string>> first_rejects;
  auto t0 = std::chrono::steady_clock::now();
  auto feed = [&](std::string_view chunk) -> bool {
    auto rep = (*ctx)->guard->ingest(t->id, chunk, format, "cli", line);
    if (!rep) {
      std::cerr << "sira: " << rep.error().detail << "\n";
      return false;
    }
    line += std::count(chunk.begin(), chunk.end(), '\n');
    lines += rep->stats.lines;
    records += rep->stats.records;
    rejected += rep->stats.rejected;
    detections += rep->detections;
    actions += rep->actions;
    for (const auto& [r, n] : rep->stats.reasons) reasons[r] += n;
    for (const auto& rj : rep->rejects)
      if (first_rejects.size() < 20) first_rejects.push_back(rj);
    return true;
  };
  bool ok = true;
  for (;;) {
    // Read straight behind the carried-over tail: no second copy of every byte.
    size_t old = buf.size();
    buf.resize(old + kChunk);
    size_t n = std::fread(buf.data() + old, 1, kChunk, in);
    buf.resize(old + n);
    if (n == 0) break;
    size_t cut = buf.rfind('\n');
    if (cut == std::string::npos) continue;
    if (!(ok = feed(std::string_view(buf).substr(0, cut + 1)))) break;
    buf.erase(0, cut + 1);
  }
  if (ok && !buf.empty()) ok = feed(buf);
  if (in != stdin) std::fclose(in);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Rollups are durable once their snapshots are in the store.
  auto f0 = std::chrono::steady_clock::now();
  if (auto st = (*ctx)->guard->flush(); !st) {
    std::cerr << "sira: writing rollup snapshots failed: " << st.error().detail << "\n";
    ok = false;
  }
  double flush_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
  std::cout << "lines " << lines << ", accepted " << records << ", rejected " << rejected
            << ", detections " << detections << ", actions " << actions << ", " << secs << " s ("
            << static_cast<int64_t>(records / std::max(secs, 1e-9)) << " records/s)\n";
  std::cout << "keys " << (*ctx)->guard->tracked_keys() << ", rollup memory "
            << (*ctx)->guard->memory_bytes() / (1024 * 1024) << " MiB, peak RSS "
            << peak_rss_kib() / 1024 << " MiB\n";
  std::cout << "rollup snapshots written in " << flush_secs << " s\n";
  for (const auto& [r, n] : reasons) std::cout << "  rejected " << n << ": " << r << "\n";
  for (const auto& [l, r] : first_rejects) std::cout << "  line " << l << ": " << r << "\n";
  return ok ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything sira writes (database, key, backups) holds secrets or evidence: owner only.
  ::umask(077);
  CLI::App cli{"sira: signals, incidents, runbooks, audit"};
  cli.require_subcommand(1);
  std::string data = "./data";

  // serve
  auto* serve = cli.add_subcommand("serve", "run the server");
  std::string config_path, listen, log_format, log_level;
  serve->add_option("--config", config_path, "sira.yaml");
  serve->add_option("--data", data, "data directory (default ./data)");
  serve->add_option("--listen", listen, "HOST:PORT (default 127.0.0.1:8080)");
  serve->add_option("--log-format", log_format, "text or json");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  // init
  auto* init = cli.add_subcommand("init", "create a data directory with an admin tenant and token");
  std::string tenant_name = "admin";
  init->add_option("--data", data, "data directory (default ./data)");
  init->add_option("--tenant-name", tenant_name, "name of the system tenant");

  // token
  auto* token = cli.add_subcommand("token", "manage API tokens");
  token->require_subcommand(1);
  std::string tenant, name, roles_csv, token_id;
  int64_t expires_in = 0;
  auto* tcreate = token->add_subcommand("create", "create a token (printed once)");
  tcreate->add_option("--data", data, "data directory");
  tcreate->add_option("--tenant", tenant, "tenant id or name (default: the system tenant)");
  tcreate->add_option("--name", name, "token name")->required();
  tcreate->add_option("--roles", roles_csv, "comma-separated roles")->required();
  tcreate->add_option("--expires-in", expires_in, "lifetime in seconds");
  auto* tlist = token->add_subcommand("list", "list tokens");
  tlist->add_option("--data", data, "data directory");
  tlist->add_option("--tenant", tenant, "tenant id or name");
  auto* trevoke = token->add_subcommand("revoke", "revoke a token");
  trevoke->add_option("--data", data, "data directory");
  trevoke->add_option("--tenant", tenant, "tenant id or name");
  trevoke->add_option("id", token_id, "token id")->required();

  // audit
  auto* audit_cmd = cli.add_subcommand("audit", "audit log tools");
  audit_cmd->require_subcommand(1);
  auto* verify = audit_cmd->add_subcommand("verify", "recompute every tree and check the signed heads");
  verify->add_option("--data", data, "data directory");
  verify->add_option("--tenant", tenant, "only this tenant id");

  // backup / restore
  std::string file;
  bool force = false;
  auto* backup = cli.add_subcommand("backup", "consistent online copy of the database");
  backup->add_option("file", file, "destination file")->required();
  backup->add_option("--data", data, "data directory");
  auto* restore = cli.add_subcommand("restore", "restore a backup into a stopped data directory");
  restore->add_option("file", file, "backup file")->required();
  restore->add_option("--data", data, "data directory");
  restore->add_flag("--force", force, "restore even when the backup fails audit verification");

  // ingest
  auto* ingest = cli.add_subcommand("ingest", "run request logs through SIRA Guard (parse, rollup, detect, act)");
  std::string format_name = "ndjson", ingest_config;
  ingest->add_option("file", file, "NDJSON or nginx access log file ('-' for stdin)")->required();
  ingest->add_option("--format", format_name, "ndjson, nginx or envoy");
  ingest->add_option("--data", data, "data directory");
  ingest->add_option("--tenant", tenant, "tenant id or name (default: the system tenant)");
  ingest->add_option("--config", ingest_config, "sira.yaml for guard settings");

  // bouncer
  auto* bouncer = cli.add_subcommand("bouncer", "CrowdSec-compatible bouncers");
  bouncer->require_subcommand(1);
  auto* badd = bouncer->add_subcommand("add", "register a bouncer; prints its API key once");
  badd->add_option("name", name, "bouncer name")->required();
  badd->add_option("--data", data, "data directory");
  badd->add_option("--tenant", tenant, "tenant id or name");

  // alerts
  auto* alerts_cmd = cli.add_subcommand("alerts", "alerting configuration");
  alerts_cmd->require_subcommand(1);
  auto* check_config = alerts_cmd->add_subcommand(
      "check-config", "validate an alertmanager.yml (or sira's alerting file) and name every field sira does not support");
  std::string alerting_file;
  check_config->add_option("file", alerting_file, "alertmanager.yml")->required();

  auto* version = cli.add_subcommand("version", "print the version");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  if (*version) {
    std::cout << "sira " << SIRA_CLI_VERSION << "\n";
    return 0;
  }

  if (*serve) {
    std::map<std::string, std::string> overrides;
    if (serve->count("--data")) overrides["data_dir"] = data;
    if (!listen.empty()) overrides["listen"] = listen;
    if (!log_format.empty()) overrides["log_format"] = log_format;
    if (!log_level.empty()) overrides["log_level"] = log_level;
    auto config = load_config(config_path, environment_map(), overrides);
    if (!config) return die("bad configuration: " + config.error().detail);
    init_logging(config->log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                 config->log_level);
    std::atexit(shutdown_logging);
    int rc = app::serve(
        *config,
        [](const std::string& addr) {
          std::cout << "sira: listening on http://" << addr << std::endl;
        },
        [](const std::string& token) {
          std::cout << "sira: initialised the data directory; admin token (shown once):\n"
                    << token << std::endl;
        });
    return rc;
  }

  init_logging(LogFormat::kText, "warn");
  std::atexit(shutdown_logging);

  if (*init) {
    if (fs::exists(app::DataPaths(data).database))
      return die("data directory " + data + " is already initialised");
    app::OpenOptions o;
    o.create = true;
    o.migrate = true;
    o.read_connections = 1;
    auto ctx = app::open_context(data, g_clock, o);
    if (!ctx) return die(ctx.error().detail);
    auto b = app::initialise(**ctx, tenant_name);
    if (!b) return die(b.error().detail);
    std::cout << "sira: initialised " << data << " (tenant " << b->tenant.name << ", "
              << b->tenant.id << ")\nadmin token (shown once):\n"
              << b->admin_token.secret << std::endl;
    return 0;
  }

  if (*token) {
    auto ctx = open_existing(data);
    if (!ctx) return die(ctx.error().detail);
    auto t = pick_tenant(**ctx, tenant);
    if (!t) return die(t.error().detail);
    auth::Principal p = auth::Principal::local_admin(t->id, t->is_system);
    if (*tcreate) {
      std::string bad;
      auto roles = parse_roles(roles_csv, &bad);
      if (!bad.empty())
        return die("unknown role \"" + bad +
                   "\"; roles are admin, pay_admin, fraud_ops, compliance, ops, auditor");
      auth::NewToken nt;
      nt.name = name;
      nt.roles = roles;
      if (expires_in < 0) return die("--expires-in must be positive");
      if (expires_in > 0) nt.expires_at = g_clock.now_ms() + expires_in * 1000;
      auto c = (*ctx)->auth->create_token(p, nt);
      if (!c) return die(c.error().detail);
      std::cout << "token " << c->token.id << " (" << auth::roles_to_csv(c->token.roles)
                << ") for tenant " << t->name << ", shown once:\n"
                << c->secret << std::endl;
      return 0;
    }
    if (*tlist) {
      auth::PageRequest pr;
      pr.limit = 500;
      for (;;) {
        auto page = (*ctx)->auth->list_tokens(p, pr);
        if (!page) return die(page.error().detail);
        for (const auto& tk : page->items) {
          std::string status = tk.revoked_at ? "revoked"
                               : (tk.expires_at && *tk.expires_at <= g_clock.now_ms()) ? "expired"
                                                                                       : "active";
          std::cout << tk.id << "\t" << status << "\t" << auth::roles_to_csv(tk.roles) << "\t"
                    << tk.name << "\t" << format_rfc3339_ms(tk.created_at) << "\n";
        }
        if (!page->next_cursor) break;
        pr.cursor = page->next_cursor;
      }
      return 0;
    }
    if (*trevoke) {
      auto st = (*ctx)->auth->revoke_token(p, token_id);
      if (!st) return die(st.error().detail);
      std::cout << "revoked " << token_id << "\n";
      return 0;
    }
  }

  if (*verify) return run_verify(data, tenant);

  if (*check_config) {
    std::ifstream in(alerting_file, std::ios::binary);
    if (!in) return die("cannot read " + alerting_file);
    std::ostringstream text;
    text << in.rdbuf();
    std::vector<std::string> unsupported;
    auto parsed = alerts::parse_alerting_config(
        text.str(), &unsupported, std::filesystem::path(alerting_file).parent_path().string());
    if (!parsed) return die(alerting_file + ": " + parsed.error().detail);
    std::cout << alerting_file << ": valid (" << parsed->receivers.size() << " receivers, "
              << parsed->inhibit_rules.size() << " inhibit rules)\n";
    for (const auto& field : unsupported) std::cout << "  not supported, ignored: " << field << "\n";
    return 0;
  }

  if (*ingest) return run_ingest(data, tenant, file, format_name, ingest_config);

  if (*badd) {
    if (app::DataLock::held_by_other(app::DataPaths(data)))
      return die("a sira server is running on " + data + "; use POST /api/v1/guard/bouncers");
    auto ctx = open_existing(data);
    if (!ctx) return die(ctx.error().detail);
    auto t = pick_tenant(**ctx, tenant);
    if (!t) return die(t.error().detail);
    auto b = (*ctx)->decisions->add_bouncer(t->id, "cli", name);
    if (!b) return die(b.error().detail);
    std::cout << "bouncer " << b->first.id << " (" << name << ") for tenant " << t->name
              << "; API key (shown once):\n"
              << b->second << std::endl;
    return 0;
  }

  if (*backup) {
    app::DataPaths paths(data);
    if (!fs::exists(paths.database)) return die("no sira database in " + data);
    if (fs::exists(file)) return die("refusing to overwrite existing file " + file);
    auto st = store::sqlite_backup_file(paths.database, file);
    if (!st) {
      std::error_code ec;
      fs::remove(file, ec);
      return die(st.error().detail);
    }
    std::cout << "backup written to " << file << " (" << fs::file_size(file) << " bytes)\n";
    return 0;
  }

  if (*restore) {
    app::DataPaths paths(data);
    if (!fs::exists(file)) return die("no backup file " + file);
    if (!fs::exists(paths.signing_key))
      return die("no audit signing key in " + data +
                 " (restore into the data directory the backup came from, or copy its "
                 "audit_ed25519.pem first)");
    if (app::DataLock::held_by_other(paths))
      return die("a sira server is running on " + data + "; stop it before restoring");
    auto lock = app::DataLock::acquire(paths);
    if (!lock) return die(lock.error().detail);
    // Stage the copy next to the database, verify it, then swap it in.
    std::string staged = paths.database + ".restore";
    std::error_code ec;
    fs::remove(staged, ec);
    if (auto st = store::sqlite_backup_file(file, staged); !st) return die(st.error().detail);
    app::DataPaths staged_paths(data);
    int verified;
    {
      // Verify the staged file through a temporary directory view.
      std::string tmpdir = data + "/.restore-check";
      fs::remove_all(tmpdir, ec);
      fs::create_directories(tmpdir);
      fs::rename(staged, app::DataPaths(tmpdir).database);
      fs::copy_file(paths.signing_key, app::DataPaths(tmpdir).signing_key);
      verified = run_verify(tmpdir, "");
      fs::rename(app::DataPaths(tmpdir).database, staged);
      fs::remove_all(tmpdir, ec);
    }
    if (verified != 0 && !force) {
      fs::remove(staged, ec);
      return die("backup " + file + " failed audit verification; nothing restored (use --force "
                 "to restore it anyway)", 1);
    }
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(paths.database + suffix, ec);
    fs::rename(staged, paths.database, ec);
    if (ec) return die("cannot move the restored database into place: " + ec.message());
    std::cout << "restored " << file << " into " << data << "\n";
    return verified;
  }
  return 0;
}
