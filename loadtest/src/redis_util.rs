//! Plain Redis chores around the engine: the masters behind a backend, their command
//! counters and memory, and deleting a run's keys.

use std::collections::BTreeMap;
use std::error::Error;

/// The URLs of the servers that own keys: the one server, or every master of the
/// cluster (read from `CLUSTER NODES` on the first node that answers).
pub fn masters(urls: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let list: Vec<&str> = urls.split(',').collect();
    if list.len() == 1 {
        return Ok(vec![list[0].to_string()]);
    }
    let mut last = String::new();
    for url in &list {
        let nodes = redis::Client::open(*url)
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c));
        match nodes {
            Ok(text) => return Ok(parse_masters(&text)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("no cluster node answered CLUSTER NODES: {last}").into())
}

fn parse_masters(nodes: &str) -> Vec<String> {
    let mut out: Vec<String> = nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let addr = fields.nth(1)?;
            let flags = fields.next()?;
            let master = flags.split(',').any(|f| f == "master");
            let failed = flags.split(',').any(|f| f.starts_with("fail"));
            let host = addr.split('@').next()?;
            (master && !failed && !host.is_empty()).then(|| format!("redis://{host}/"))
        })
        .collect();
    out.sort();
    out
}

fn connection(url: &str) -> Result<redis::Connection, Box<dyn Error>> {
    Ok(redis::Client::open(url)?.get_connection()?)
}

/// Calls and microseconds of one command, from `INFO commandstats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub calls: u64,
    pub usec: u64,
}

/// Calls per command (`cmdstat_evalsha` → `evalsha`), summed over `servers`.
pub fn command_calls(servers: &[String]) -> Result<BTreeMap<String, Calls>, Box<dyn Error>> {
    let mut out = BTreeMap::new();
    for url in servers {
        let text: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut connection(url)?)?;
        for (name, c) in parse_commandstats(&text) {
            let e: &mut Calls = out.entry(name).or_default();
            e.calls += c.calls;
            e.usec += c.usec;
        }
    }
    Ok(out)
}

fn parse_commandstats(text: &str) -> Vec<(String, Calls)> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| -> Option<u64> {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(key))?
                    .parse()
                    .ok()
            };
            let calls = Calls {
                calls: field("calls=")?,
                usec: field("usec=").unwrap_or(0),
            };
            Some((name.to_string(), calls))
        })
        .collect()
}

/// Commands counted between two readings: every command but the counters' own `info`
/// (commands a script calls count too), the scripts (`evalsha` and `eval`) among them,
/// and the server time the scripts took (including the commands they call); likewise
/// the Redis module's `IL.*` commands and their server time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CommandDelta {
    pub commands: u64,
    pub scripts: u64,
    pub script_usec: u64,
    pub module_calls: u64,
    pub module_usec: u64,
}

impl CommandDelta {
    /// Calls that ran the rules on the server: scripts and `IL.*` commands.
    pub fn decision_calls(&self) -> u64 {
        self.scripts + self.module_calls
    }

    /// Server time of those calls, in microseconds.
    pub fn decision_usec(&self) -> u64 {
        self.script_usec + self.module_usec
    }

    pub fn add(self, o: CommandDelta) -> CommandDelta {
        CommandDelta {
            commands: self.commands + o.commands,
            scripts: self.scripts + o.scripts,
            script_usec: self.script_usec + o.script_usec,
            module_calls: self.module_calls + o.module_calls,
            module_usec: self.module_usec + o.module_usec,
        }
    }
}

/// Command names compare case-insensitively: Redis lists its own commands in lower
/// case and a module's as the module registered them (`cmdstat_IL.SEND`).
pub fn delta(before: &BTreeMap<String, Calls>, after: &BTreeMap<String, Calls>) -> CommandDelta {
    let mut d = CommandDelta::default();
    for (name, c) in after {
        let b = before.get(name).copied().unwrap_or_default();
        let n = c.calls.saturating_sub(b.calls);
        let usec = c.usec.saturating_sub(b.usec);
        let name = name.to_ascii_lowercase();
        if name == "info" || name.starts_with("cluster") {
            continue;
        }
        d.commands += n;
        if name == "evalsha" || name == "eval" {
            d.scripts += n;
            d.script_usec += usec;
        } else if name.starts_with("il.") {
            d.module_calls += n;
            d.module_usec += usec;
        }
    }
    d
}

/// `used_memory` summed over `servers`.
pub fn used_memory(servers: &[String]) -> Result<u64, Box<dyn Error>> {
    let mut total = 0;
    for url in servers {
        let text: String = redis::cmd("INFO")
            .arg("memory")
            .query(&mut connection(url)?)?;
        total += text
            .lines()
            .find_map(|l| l.trim().strip_prefix("used_memory:"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// A glob matching exactly the keys the engine names with `prefix` (`{prefix:…`).
fn key_pattern(prefix: &str) -> String {
    let mut p = String::from("{");
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str(":*");
    p
}

/// Calls `each` with every batch of keys named with `prefix` (`{prefix:…`) on every
/// master, and the connection that found them; returns how many keys there were.
fn scan_keys(
    servers: &[String],
    prefix: &str,
    mut each: impl FnMut(&mut redis::Connection, &[String]) -> redis::RedisResult<()>,
) -> Result<u64, Box<dyn Error>> {
    let pattern = key_pattern(prefix);
    let mut found = 0;
    for url in servers {
        let mut con = connection(url)?;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(2000)
                .query(&mut con)?;
            if !keys.is_empty() {
                each(&mut con, &keys)?;
                found += keys.len() as u64;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(found)
}

/// How many keys are named with `prefix` (`{prefix:…`), over every master.
pub fn count_keys(servers: &[String], prefix: &str) -> Result<u64, Box<dyn Error>> {
    scan_keys(servers, prefix, |_, _| Ok(()))
}

/// Deletes every key named with `prefix` (`{prefix:…`) on every master; returns how many.
pub fn delete_keys(servers: &[String], prefix: &str) -> Result<u64, Box<dyn Error>> {
    scan_keys(servers, prefix, |con, keys| {
        // One key per command: keys of one node may lie in different slots.
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("UNLINK").arg(k).ignore();
        }
        pipe.query::<()>(con)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_and_commandstats_parse() {
        let nodes = "b699 127.0.0.1:7100@17100 myself,master - 0 1 1 connected 0-5460\n\
                     cbc4 127.0.0.1:7105@17105 slave 320c 0 1 3 connected\n\
                     17a6 127.0.0.1:7101@17101 master - 0 1 2 connected 5461-10922\n\
                     dead 127.0.0.1:7109@17109 master,fail - 0 1 2 disconnected\n";
        assert_eq!(
            parse_masters(nodes),
            vec!["redis://127.0.0.1:7100/", "redis://127.0.0.1:7101/"]
        );
        let stats = "# Commandstats\r\ncmdstat_evalsha:calls=12,usec=30,usec_per_call=2.5\r\n\
                     cmdstat_info:calls=3,usec=1\r\ncmdstat_hmget:calls=5,usec=1\r\n\
                     cmdstat_IL.SEND:calls=7,usec=21,usec_per_call=3.00\r\n";
        let parsed = parse_commandstats(stats);
        assert_eq!(parsed.len(), 4);
        let two = Calls { calls: 2, usec: 5 };
        let before: BTreeMap<String, Calls> = [("evalsha".to_string(), two)].into();
        let after: BTreeMap<String, Calls> = parsed.into_iter().collect();
        assert_eq!(
            delta(&before, &after),
            CommandDelta {
                commands: 22,
                scripts: 10,
                script_usec: 25,
                module_calls: 7,
                module_usec: 21,
            }
        );
        assert_eq!(key_pattern("a*b"), "{a\\*b:*");
    }
}
