import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { fingerprint, isSecretName, maskArgv, maskEnv, maskText, redaction } from "../../src/audit/mask.ts";

// Built from parts so no tracked file carries the literal header of a secret key file.
const SK_COMMENT = ["untrusted comment:", "minisign", "encrypted", "secret key"].join(" ");

const marker = (secret: string) => `<redacted:sha256:${fingerprint(secret)}>`;

/** The secret is gone, its fingerprint is there. */
function expectMasked(out: string, ...secrets: string[]) {
  for (const s of secrets) {
    expect(out).not.toContain(s);
    expect(out).toContain(marker(s));
  }
}

describe("fingerprint", () => {
  test("first 8 hex of SHA-256 of the UTF-8 secret (independent implementation)", () => {
    for (const s of ["hunter2", "pässwörd", "", "x".repeat(1000)]) {
      expect(fingerprint(s)).toBe(bytesToHex(sha256(utf8ToBytes(s))).slice(0, 8));
    }
    expect(fingerprint("abc")).toBe("ba7816bf");
    expect(redaction("abc")).toBe("<redacted:sha256:ba7816bf>");
  });
});

describe("maskText: name=value forms", () => {
  const cases: [string, string][] = [
    ["token=", "tK9xQ2"],
    ["password=", "hunter2!"],
    ["passwd=", "pw-passwd-1"],
    ["secret=", "s3cr3t-value"],
    ["api_key=", "AKxyz123"],
    ["apikey=", "AKabc987"],
    ["API-KEY=", "dashkey55"],
    ["DB_PASSWORD=", "dbpw-77"],
    ["client_secret: ", "cs-value-9"],
    ["--token=", "cli-token-1"],
    ["private_key = ", "pk-spaced"],
    ["passphrase=", "correct horse"],
  ];
  for (const [prefix, secret] of cases) {
    test(`${prefix}…`, () => {
      const quoted = secret.includes(" ") ? `"${secret}"` : secret;
      const out = maskText(`before ${prefix}${quoted} after`);
      expectMasked(out, secret);
      expect(out).toStartWith(`before ${prefix}`); // the name stays readable
      expect(out).toEndWith(" after");
    });
  }

  test("JSON field and single-quoted value", () => {
    const out = maskText(`{"password": "p4ss-json", "user": "bob"} and token='tok-single'`);
    expectMasked(out, "p4ss-json", "tok-single");
    expect(out).toContain('"user": "bob"');
  });

  test("query string parameters stop at '&'", () => {
    const out = maskText("GET https://api.example/v1?a=1&access_token=zzz-query-tok&b=2");
    expectMasked(out, "zzz-query-tok");
    expect(out).toContain("&b=2");
  });

  test("several secrets on one line each get their own fingerprint", () => {
    const out = maskText("token=first-one password=second-one");
    expectMasked(out, "first-one", "second-one");
  });
});

describe("maskText: option followed by its value", () => {
  test("--password X and --token X inside a command line", () => {
    const out = maskText("pkgswitch enable coreutils --password hunter2x --token tok-777 --root /tmp/x");
    expectMasked(out, "hunter2x", "tok-777");
    expect(out).toContain("--root /tmp/x");
  });
});

describe("maskText: authorization", () => {
  test("Authorization: Bearer header keeps the scheme", () => {
    const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature";
    const out = maskText(`curl -H "Authorization: Bearer ${tok}" https://example.com`);
    expectMasked(out, tok);
    expect(out).toContain("Authorization: Bearer <redacted:");
    expect(out).toEndWith(`" https://example.com`);
  });

  test("bare Bearer token", () => {
    expectMasked(maskText("sent Bearer abc.DEF-123_xyz to server"), "abc.DEF-123_xyz");
  });

  test("Basic credentials, in a header and bare", () => {
    const cred = Buffer.from("alice:wonderland").toString("base64");
    expectMasked(maskText(`Authorization: Basic ${cred}`), cred);
    expectMasked(maskText(`using Basic ${cred}`), cred);
  });

  test("Authorization with another scheme masks the whole value", () => {
    const out = maskText('Proxy-Authorization: Digest username="u", response="6629fae49393a053"');
    expect(out).not.toContain("6629fae49393a053");
    expect(out).toStartWith("Proxy-Authorization: <redacted:sha256:");
  });

  test("'token: Bearer x' masks the token, not just the scheme word", () => {
    expectMasked(maskText("token: Bearer zz-bearer-tok"), "Bearer zz-bearer-tok");
  });
});

describe("maskText: URLs with userinfo", () => {
  test("password masked, user and host kept", () => {
    const out = maskText("git clone https://alice:s3cr3t-pw@example.com/repo.git");
    expectMasked(out, "s3cr3t-pw");
    expect(out).toContain("https://alice:<redacted:");
    expect(out).toContain("@example.com/repo.git");
  });

  test("password containing '@' is masked up to the last '@' of the authority", () => {
    const out = maskText("postgres://db:p@ss@word@db.internal:5432/app");
    expectMasked(out, "p@ss@word");
    expect(out).toContain("@db.internal:5432/app");
  });

  test("URL without userinfo, with a port, is untouched", () => {
    const s = "fetching https://deb.debian.org:443/debian/dists/bookworm/InRelease";
    expect(maskText(s)).toBe(s);
  });
});

describe("maskText: private keys", () => {
  const pems: [string, string][] = [
    ["ed25519 pkcs8", generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string],
    ["rsa pkcs1", generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string],
    [
      "encrypted pkcs8",
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
        type: "pkcs8",
        format: "pem",
        cipher: "aes-256-cbc",
        passphrase: "pp",
      }) as string,
    ],
  ];
  for (const [name, pem] of pems) {
    test(`PEM block (${name})`, () => {
      const out = maskText(`key follows:\n${pem}trailing text`);
      const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").trim();
      for (const line of body.split("\n")) expect(out).not.toContain(line);
      expect(out).toContain(marker(body));
      expect(out).toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/); // the kind stays visible
      expect(out).toEndWith("trailing text");
    });
  }

  test("OPENSSH key behind a name, and a truncated block", () => {
    const body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ";
    const label = ["OPENSSH", "PRIVATE", "KEY"].join(" "); // no literal key header in tracked files
    const out = maskText(`private_key: -----BEGIN ${label}-----\n${body}\n-----END ${label}-----`);
    for (const line of body.split("\n")) expect(out).not.toContain(line);
    expect(out).toContain(marker(body));
    const cut = maskText(`-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7truncated`);
    expect(cut).not.toContain("MIIEowIBAAKCAQEA7truncated");
  });

  test("a public key block is not a secret", () => {
    const pub = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;
    expect(maskText(pub)).toBe(pub);
  });

  const minisignSecret = (kdf: string) =>
    Buffer.concat([Buffer.from(`Ed${kdf}B2`, "latin1"), randomBytes(152)]).toString("base64");

  test("minisign encrypted secret key line after its comment", () => {
    const b64 = minisignSecret("Sc");
    expect(b64).toHaveLength(212);
    const out = maskText(`${SK_COMMENT}\n${b64}\n`);
    expectMasked(out, b64);
    expect(out).toStartWith(`${SK_COMMENT}\n`);
  });

  test("minisign unencrypted secret key, with its comment or bare", () => {
    const b64 = minisignSecret("\0\0");
    expectMasked(maskText(`${SK_COMMENT.replace("encrypted ", "")}\n${b64}`), b64);
    expectMasked(maskText(`cat key.sec gave ${b64}`), b64);
  });

  test("minisign public keys and signatures are left alone", () => {
    const pub = Buffer.concat([Buffer.from("Ed"), randomBytes(40)]).toString("base64");
    const s = `untrusted comment: minisign public key 0123456789ABCDEF\n${pub}\n`;
    expect(maskText(s)).toBe(s);
  });
});

describe("maskText: well-known token formats", () => {
  test("GitHub and GitLab tokens without a name", () => {
    const gh = `ghp_${"a1B2".repeat(9)}`;
    const gl = "glpat-abcdefghij0123456789";
    expectMasked(maskText(`remote: ${gh} / ${gl}`), gh, gl);
  });
});

describe("maskText: properties", () => {
  test("idempotent: masking masked text changes nothing", () => {
    const once = maskText("password=hunter22 Authorization: Bearer abcdef https://u:pw@h/");
    expect(maskText(once)).toBe(once);
  });

  test("a secret echoed elsewhere in the same text is masked too", () => {
    const out = maskText("password=Tr0ub4dor rejected: 'Tr0ub4dor' is too weak");
    expectMasked(out, "Tr0ub4dor");
  });

  test("linear time on long runs of name characters", () => {
    const t = performance.now();
    maskText("a".repeat(200_000));
    maskText("-".repeat(200_000));
    maskText("token".repeat(40_000));
    expect(performance.now() - t).toBeLessThan(2_000);
  });
});

describe("no false positives on ordinary text", () => {
  const ordinary = [
    "/usr/bin/ls",
    "--root /tmp/x",
    "enable coreutils",
    "pkgswitch enable coreutils --root /tmp/x --dry-run",
    "dpkg-query -S /usr/bin/ls /bin/cat",
    "Setting up rust-coreutils (0.0.17-2) ...",
    "coreutils: /usr/bin/ls",
    "/usr/share/doc/libauthen-sasl-perl/copyright",
    "--key /etc/pkgswitch/keys/signing.key",
    "PKGSWITCH_SIGNING_KEY=/etc/pkgswitch/keys/signing.key",
    "GIT_AUTHOR_NAME=Alice XAUTHORITY=/home/a/.Xauthority SSH_AUTH_SOCK=/run/ssh.sock",
    "--password-file /etc/pkgswitch/pass",
    "Basic usage: pkgswitch enable PROVIDER",
    "https://deb.debian.org/debian bookworm main",
    "error: file changed while it was being hashed: /usr/bin/cat",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  ];
  for (const s of ordinary) test(JSON.stringify(s), () => expect(maskText(s)).toBe(s));

  test("ordinary argv is unchanged", () => {
    const argv = ["pkgswitch", "enable", "coreutils", "--root", "/tmp/x", "--json", "/usr/bin/ls"];
    expect(maskArgv(argv)).toEqual(argv);
  });
});

describe("maskArgv", () => {
  test("--password X masks the whole next argument", () => {
    const out = maskArgv(["tool", "--password", "two words", "--root", "/tmp/x"]);
    expect(out).toEqual(["tool", "--password", marker("two words"), "--root", "/tmp/x"]);
  });

  test("--token=X masks the rest of the argument, spaces included", () => {
    expect(maskArgv(["--token=a b c"])).toEqual([`--token=${marker("a b c")}`]);
  });

  test("env-style NAME=value argument", () => {
    expect(maskArgv(["env", "API_KEY=k e y", "cmd"])).toEqual(["env", `API_KEY=${marker("k e y")}`, "cmd"]);
  });

  test("-u user:pass and --user=user:pass keep the user", () => {
    expect(maskArgv(["curl", "-u", "bob:pw1", "--user=amy:pw2"])).toEqual([
      "curl", "-u", `bob:${marker("pw1")}`, `--user=amy:${marker("pw2")}`,
    ]);
  });

  test("headers and URLs inside arguments go through maskText", () => {
    const out = maskArgv(["curl", "-H", "Authorization: Bearer tok-in-argv", "https://u:argvpw@h/x"]);
    const joined = out.join(" ");
    expectMasked(joined, "tok-in-argv", "argvpw");
  });

  test("a secret repeated in a later argument is masked there too", () => {
    const out = maskArgv(["login", "--password", "Sw0rdfish", "echo", "Sw0rdfish"]);
    expect(out.join(" ")).not.toContain("Sw0rdfish");
    expect(out[4]).toBe(marker("Sw0rdfish"));
  });

  test("boolean and file options do not swallow the next argument", () => {
    const argv = ["x", "--no-password", "enable", "--password-file", "/etc/p", "--password-stdin", "reg.example"];
    expect(maskArgv(argv)).toEqual(argv);
  });

  test("a trailing --password without value is kept", () => {
    expect(maskArgv(["x", "--password"])).toEqual(["x", "--password"]);
  });
});

describe("maskEnv", () => {
  test("names matching the secret pattern have their values masked, names kept", () => {
    const env = {
      DB_PASSWORD: "v1-pass",
      MY_PASSWD: "v2-passwd",
      AWS_SECRET_ACCESS_KEY: "v3-secret",
      GITHUB_TOKEN: "v4-token",
      API_KEY: "v5-apikey",
      APIKEY: "v6-apikey",
      SSH_PRIVATE_KEY: "v7-private",
      GOOGLE_CREDENTIALS: "v8-cred",
      HTTP_AUTH: "v9-auth",
      pkgswitch_minisign_passphrase: "v10-phrase",
    };
    const out = maskEnv(env);
    expect(Object.keys(out)).toEqual(Object.keys(env));
    for (const [k, v] of Object.entries(env)) expect(out[k]).toBe(marker(v));
  });

  test("other values are kept, but still scanned", () => {
    const out = maskEnv({
      PATH: "/usr/sbin:/usr/bin",
      HOME: "/root",
      LANG: "C.UTF-8",
      HTTPS_PROXY: "http://proxy:pr0xypw@proxy.internal:3128",
      PASSWORD_FILE: "/run/secrets/db",
    });
    expect(out.PATH).toBe("/usr/sbin:/usr/bin");
    expect(out.HOME).toBe("/root");
    expect(out.LANG).toBe("C.UTF-8");
    expect(out.PASSWORD_FILE).toBe("/run/secrets/db");
    expectMasked(out.HTTPS_PROXY!, "pr0xypw");
  });

  test("input is not mutated", () => {
    const env = { TOKEN: "abc-token" };
    maskEnv(env);
    expect(env.TOKEN).toBe("abc-token");
  });
});

describe("isSecretName", () => {
  test("matches the documented pattern and its exceptions", () => {
    for (const n of ["PASSWORD", "passwd", "Secret", "X_TOKEN", "API_KEY", "apikey", "PRIVATE_KEY", "privatekey", "CREDENTIALS", "AUTH", "AUTHORIZATION", "--token", "api-key"]) {
      expect([n, isSecretName(n)]).toEqual([n, true]);
    }
    for (const n of ["PATH", "HOME", "KEY", "GIT_AUTHOR_EMAIL", "XAUTHORITY", "TOKEN_FILE", "--password-file", "--no-password", "SSH_AUTH_SOCK", "root"]) {
      expect([n, isSecretName(n)]).toEqual([n, false]);
    }
  });
});
