/*! Switchboard web widget · docs/widget.md
 * <script src="https://HOST/widget.js" data-tenant="TENANT" async></script>
 *
 * One hand-written, framework-free file, served as is by the Switchboard binary. It
 * draws a launcher and a chat panel inside an open shadow root (host CSS cannot reach
 * in, ours cannot leak out) and speaks web chat protocol v1 (docs/protocol.md) from the
 * host page's origin, so the tenant's allowed origins apply. Durable messages are kept
 * in localStorage by seq, so a reload or a new tab shows the whole conversation and a
 * reconnect resumes after the last seq; messages typed offline wait as pending and are
 * resent with the same client_id, which the server deduplicates. Message text is only
 * ever put in the page through DOM text nodes (a small, safe markdown subset), never as
 * HTML.
 */
(function () {
  "use strict";
  var previous = window.Switchboard;
  if (previous && previous.version) return; // loaded twice: keep the first

  // ---------------------------------------------------------------- configuration
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js'][data-tenant]");
    return all[all.length - 1];
  })();
  if (!script) return;
  var data = script.dataset;
  var SERVER = new URL(script.src, location.href);
  var TENANT = (data.tenant || "").trim();
  if (!TENANT) {
    console.error("Switchboard widget: the script tag needs data-tenant");
    return;
  }
  var WS_URL = (SERVER.protocol === "https:" ? "wss://" : "ws://") + SERVER.host + "/v1/ws";
  var INLINE = data.mode === "inline";
  // A preview ticket from the admin console: its conversations run a draft of the flow,
  // and are kept apart from the visitor's real one.
  var PREVIEW = data.preview || null;
  var KEY = "switchboard:v1:" + SERVER.host + ":" + TENANT + (PREVIEW ? ":preview:" + PREVIEW.slice(-22) : "");
  var MAX_CACHED = 300;
  var MAX_TEXT = 4000;

  // ---------------------------------------------------------------- localisation
  var STRINGS = {
    en: {
      title: "Chat with us", subtitle: "We reply right away", open: "Open chat",
      openUnread: "Open chat, {n} unread", close: "Close chat", placeholder: "Write a message…",
      send: "Send", log: "Conversation", you: "You", bot: "Assistant", agent: "Agent",
      connecting: "Connecting…", reconnecting: "Reconnecting…",
      offline: "You're offline. Your messages will be sent when the connection is back.",
      sending: "Sending…", waiting: "Waiting for connection", notSent: "Not sent",
      remove: "Remove", typing: "Typing…", ended: "This conversation has ended.",
      newChat: "Start a new conversation",
      unavailable: "Chat isn't available right now. Please try again later.",
      blocked: "Chat isn't available on this website.",
      identity: "We couldn't confirm who you are, so your conversations can't be shown here.",
      identityExpired: "Your session has expired. Please sign in again to see your conversations.",
      guest: "Continue as guest", newMessage: "New message", dismiss: "Dismiss",
      tooLong: "This message is too long.", rateLimited: "You're sending messages quickly. We'll send this in a moment.",
      failed: "Something went wrong. We'll keep trying.", powered: "Powered by Switchboard"
    },
    fr: {
      title: "Discutons", subtitle: "Nous répondons tout de suite", open: "Ouvrir le chat",
      openUnread: "Ouvrir le chat, {n} non lus", close: "Fermer le chat", placeholder: "Écrivez un message…",
      send: "Envoyer", log: "Conversation", you: "Vous", bot: "Assistant", agent: "Conseiller",
      connecting: "Connexion…", reconnecting: "Reconnexion…",
      offline: "Vous êtes hors ligne. Vos messages partiront dès le retour de la connexion.",
      sending: "Envoi…", waiting: "En attente de connexion", notSent: "Non envoyé",
      remove: "Retirer", typing: "En train d'écrire…", ended: "Cette conversation est terminée.",
      newChat: "Commencer une nouvelle conversation",
      unavailable: "Le chat n'est pas disponible pour le moment. Réessayez plus tard.",
      blocked: "Le chat n'est pas disponible sur ce site.",
      identity: "Nous n'avons pas pu confirmer votre identité : vos conversations ne peuvent pas s'afficher ici.",
      identityExpired: "Votre session a expiré. Reconnectez-vous pour voir vos conversations.",
      guest: "Continuer en invité", newMessage: "Nouveau message", dismiss: "Fermer",
      tooLong: "Ce message est trop long.", rateLimited: "Vous écrivez vite ! Ce message partira dans un instant.",
      failed: "Un problème est survenu. Nous réessayons.", powered: "Propulsé par Switchboard"
    },
    de: {
      title: "Schreiben Sie uns", subtitle: "Wir antworten sofort", open: "Chat öffnen",
      openUnread: "Chat öffnen, {n} ungelesen", close: "Chat schließen", placeholder: "Nachricht schreiben…",
      send: "Senden", log: "Unterhaltung", you: "Sie", bot: "Assistent", agent: "Mitarbeiter",
      connecting: "Verbinden…", reconnecting: "Neu verbinden…",
      offline: "Sie sind offline. Ihre Nachrichten werden gesendet, sobald die Verbindung zurück ist.",
      sending: "Wird gesendet…", waiting: "Warte auf Verbindung", notSent: "Nicht gesendet",
      remove: "Entfernen", typing: "Schreibt…", ended: "Diese Unterhaltung ist beendet.",
      newChat: "Neue Unterhaltung beginnen",
      unavailable: "Der Chat ist gerade nicht verfügbar. Bitte versuchen Sie es später erneut.",
      blocked: "Der Chat ist auf dieser Website nicht verfügbar.",
      identity: "Wir konnten Sie nicht bestätigen, daher können Ihre Unterhaltungen hier nicht angezeigt werden.",
      identityExpired: "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
      guest: "Als Gast fortfahren", newMessage: "Neue Nachricht", dismiss: "Schließen",
      tooLong: "Diese Nachricht ist zu lang.", rateLimited: "Sie schreiben schnell. Wir senden dies gleich.",
      failed: "Etwas ist schiefgelaufen. Wir versuchen es weiter.", powered: "Bereitgestellt von Switchboard"
    },
    es: {
      title: "Hablemos", subtitle: "Respondemos al instante", open: "Abrir chat",
      openUnread: "Abrir chat, {n} sin leer", close: "Cerrar chat", placeholder: "Escribe un mensaje…",
      send: "Enviar", log: "Conversación", you: "Tú", bot: "Asistente", agent: "Agente",
      connecting: "Conectando…", reconnecting: "Reconectando…",
      offline: "Estás sin conexión. Tus mensajes se enviarán cuando vuelva la conexión.",
      sending: "Enviando…", waiting: "Esperando conexión", notSent: "No enviado",
      remove: "Quitar", typing: "Escribiendo…", ended: "Esta conversación ha terminado.",
      newChat: "Empezar una nueva conversación",
      unavailable: "El chat no está disponible ahora. Inténtalo más tarde.",
      blocked: "El chat no está disponible en este sitio.",
      identity: "No pudimos confirmar quién eres, así que tus conversaciones no se pueden mostrar aquí.",
      identityExpired: "Tu sesión ha caducado. Vuelve a iniciar sesión para ver tus conversaciones.",
      guest: "Continuar como invitado", newMessage: "Nuevo mensaje", dismiss: "Cerrar",
      tooLong: "Este mensaje es demasiado largo.", rateLimited: "Escribes rápido. Lo enviaremos en un momento.",
      failed: "Algo salió mal. Seguimos intentándolo.", powered: "Con la tecnología de Switchboard"
    }
  };
  var LOCALE = (function () {
    var wanted = [data.locale].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < wanted.length; i++) {
      var tag = String(wanted[i] || "").toLowerCase().split("-")[0];
      if (STRINGS[tag]) return tag;
    }
    return "en";
  })();
  function t(key, n) {
    var s = STRINGS[LOCALE][key] || STRINGS.en[key] || key;
    return n === undefined ? s : s.replace("{n}", n);
  }
  var TITLE = data.title || t("title");
  var TIME = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "2-digit" });
  var DAY = new Intl.DateTimeFormat(LOCALE, { month: "short", day: "numeric" });

  // ---------------------------------------------------------------- persisted state
  function fresh(who) {
    return { who: who || "anon", visitor_token: null, conversation_id: null, last_seq: 0,
      status: "active", msgs: [], pending: [], acked: [] };
  }
  function load() {
    try { var raw = localStorage.getItem(KEY); return raw ? JSON.parse(raw) : null; } catch (e) { return null; }
  }
  var S = load() || fresh();
  if (!Array.isArray(S.msgs) || !Array.isArray(S.pending)) S = fresh();
  S.acked = S.acked || [];

  /** Another tab's pending messages this tab has already seen stored (cid -> true). */
  var shown = {};
  /** Folds another tab's copy into ours: messages by seq, pending minus acked. */
  function merge(other) {
    if (!other || other.who !== S.who || other.conversation_id !== S.conversation_id) return false;
    var changed = false, seen = {};
    S.msgs.forEach(function (m) { seen[m.id] = true; });
    (other.msgs || []).forEach(function (m) {
      if (!seen[m.id] && m.seq <= (other.last_seq || 0)) { S.msgs.push(m); changed = true; }
    });
    if (changed) S.msgs.sort(function (a, b) { return a.seq - b.seq; });
    S.last_seq = Math.max(S.last_seq || 0, other.last_seq || 0);
    S.acked = S.acked.concat((other.acked || []).filter(function (c) { return S.acked.indexOf(c) < 0; })).slice(-100);
    (other.pending || []).forEach(function (p) {
      if (!S.pending.some(function (q) { return q.cid === p.cid; }) && !(p.mid && hasMsg(p.mid)) && !shown[p.cid]) {
        S.pending.push({ cid: p.cid, text: p.text, at: p.at, mid: p.mid, foreign: true }); changed = true;
      }
    });
    var before = S.pending.length;
    // Our own acked messages stay until their message frame arrives (no flicker); another
    // tab's are gone once that tab saw the ack.
    S.pending = S.pending.filter(function (p) { return p.mid ? !hasMsg(p.mid) : S.acked.indexOf(p.cid) < 0; });
    return changed || before !== S.pending.length;
  }
  /** True when another tab has moved on to a newer conversation than ours. */
  function superseded(other) {
    return !!other && other.who === S.who && !!other.conversation_id &&
      other.conversation_id !== S.conversation_id && (other.since || 0) > (S.since || 0);
  }
  function save() {
    var stored = load();
    if (superseded(stored)) return; // the storage listener follows it
    merge(stored);
    if (S.msgs.length > MAX_CACHED) S.msgs = S.msgs.slice(-MAX_CACHED);
    try {
      localStorage.setItem(KEY, JSON.stringify({
        who: S.who, visitor_token: S.visitor_token, conversation_id: S.conversation_id, since: S.since,
        last_seq: S.last_seq, status: S.status, msgs: S.msgs, acked: S.acked,
        pending: S.pending.filter(function (p) { return !p.failed; })
          .map(function (p) { return { cid: p.cid, text: p.text, at: p.at, mid: p.mid }; })
      }));
    } catch (e) { /* private mode or full: the conversation still works, unpersisted */ }
  }
  function hasMsg(id) {
    return !!id && S.msgs.some(function (m) { return m.id === id; });
  }
  function session(name, value) {
    try {
      if (value === undefined) return sessionStorage.getItem(KEY + ":" + name);
      if (value === null) sessionStorage.removeItem(KEY + ":" + name);
      else sessionStorage.setItem(KEY + ":" + name, value);
    } catch (e) { return null; }
  }

  // ---------------------------------------------------------------- runtime state
  var ws = null, joined = false, attempt = 0, retryTimer = 0;
  var conn = "idle";          // idle | connecting | online | offline
  var mode = "chat";          // chat | unavailable | blocked | identity | identityExpired
  var identity = null;        // the JWT from identify(), sent with every hello
  var isOpen = false, unread = 0, typing = false, typingTimer = 0, nudgeTimer = 0;
  var streams = {};           // message_id -> text streamed so far
  var handlers = {};
  var readyFired = false;
  // An identified visitor's history shows only once the page vouches for them again.
  var held = S.who !== "anon";

  // ---------------------------------------------------------------- DOM helpers
  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "class") el.className = attrs[k];
      else if (k === "text") el.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) el.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }
  function svg(path, size) {
    var ns = "http://www.w3.org/2000/svg", s = document.createElementNS(ns, "svg");
    s.setAttribute("viewBox", "0 0 24 24"); s.setAttribute("width", size || 24); s.setAttribute("height", size || 24);
    s.setAttribute("aria-hidden", "true"); s.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path"); p.setAttribute("d", path); s.appendChild(p);
    return s;
  }
  var ICON_CHAT = "M12 3C6.5 3 2 6.9 2 11.7c0 2.5 1.2 4.8 3.2 6.4-.2 1.3-.8 2.6-1.9 3.6 2.2-.1 4.1-.9 5.4-2 1.1.3 2.2.4 3.3.4 5.5 0 10-3.9 10-8.7S17.5 3 12 3Z";
  var ICON_DOWN = "M6.7 8.3 12 13.6l5.3-5.3 1.4 1.4L12 16.4 5.3 9.7z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  var ICON_SEND = "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z";

  // ---------------------------------------------------------------- safe markdown
  /** Renders a small markdown subset into `parent` with DOM APIs only. */
  function markdown(text, parent) {
    var lines = String(text).replace(/\r\n?/g, "\n").split("\n"), i = 0, para = [];
    var ITEM = /^\s*([-*•]|\d{1,3}[.)])\s+(.*)$/;
    function flush() {
      if (!para.length) return;
      var p = h("p");
      para.forEach(function (line, j) { if (j) p.appendChild(h("br")); inline(line, p, 0); });
      parent.appendChild(p); para = [];
    }
    while (i < lines.length) {
      var line = lines[i], m;
      if (/^\s*```/.test(line)) {
        flush();
        var code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        i++;
        parent.appendChild(h("pre", null, [h("code", { text: code.join("\n") })]));
      } else if ((m = ITEM.exec(line))) {
        flush();
        var ordered = /\d/.test(m[1]), list = h(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[1], 10) !== 1) list.start = parseInt(m[1], 10);
        while (i < lines.length && (m = ITEM.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
          var li = h("li"); inline(m[2], li, 0); list.appendChild(li); i++;
        }
        parent.appendChild(list);
      } else if (!line.trim()) {
        flush(); i++;
      } else {
        para.push(line); i++;
      }
    }
    flush();
  }
  var MD_INLINE = /`([^`\n]+)`|\*\*([^*\n]+?)\*\*|__([^_\n]+?)__|\*([^*\s][^*\n]*?)\*|_([^_\s][^_\n]*?)_|\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)|(https?:\/\/[^\s<>()"']*[^\s<>()"'.,;:!?])/g;
  function inline(text, parent, depth) {
    var last = 0, m;
    MD_INLINE.lastIndex = 0;
    var matches = [];
    while ((m = MD_INLINE.exec(text))) matches.push({ m: m, index: m.index, end: MD_INLINE.lastIndex });
    matches.forEach(function (x) {
      var m = x.m;
      if (x.index < last) return;
      // `_` only emphasises at word boundaries (snake_case stays as it is).
      if (m[5] !== undefined && (/\w/.test(text.charAt(x.index - 1)) || /\w/.test(text.charAt(x.end)))) return;
      if (x.index > last) parent.appendChild(document.createTextNode(text.slice(last, x.index)));
      var el;
      if (m[1] !== undefined) el = h("code", { text: m[1] });
      else if (m[2] !== undefined || m[3] !== undefined) { el = h("strong"); nest(m[2] || m[3], el); }
      else if (m[4] !== undefined || m[5] !== undefined) { el = h("em"); nest(m[4] || m[5], el); }
      else if (m[6] !== undefined) el = link(m[7], m[6]);
      else el = link(m[8], m[8]);
      parent.appendChild(el);
      last = x.end;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
    function nest(s, el) { if (depth < 3) inline(s, el, depth + 1); else el.textContent = s; }
  }
  /** A link for http, https and mailto URLs only; anything else stays text. */
  function link(url, label) {
    if (!/^(https?:\/\/|mailto:)/i.test(url)) return document.createTextNode(label === url ? url : label + " (" + url + ")");
    var href;
    try { href = new URL(url).href; } catch (e) { return document.createTextNode(label); }
    return h("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: label });
  }

  // ---------------------------------------------------------------- styles
  var STYLE = [
    // The host element is out of the page's flow (fixed, no size), whatever the page's CSS says.
    ":host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;width:0!important;height:0!important;z-index:2147483000!important;visibility:visible!important;opacity:1!important;pointer-events:auto!important}",
    ":host([data-inline]){position:relative!important;z-index:auto!important;height:100%!important;width:100%!important}",
    ".inline{display:block;height:100%}",
    ".root{all:initial;--a:#2563eb;--on:#fff;--ink:#2563eb;--rgb:37,99,235;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#111827;visibility:visible;-webkit-font-smoothing:antialiased;text-align:left;direction:ltr}",
    ".root *,.root *::before,.root *::after{box-sizing:border-box}",
    "button,textarea{font:inherit;color:inherit;margin:0}",
    "button{cursor:pointer;background:none;border:0;padding:0}",
    ":focus-visible{outline:2px solid var(--ink);outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}",
    // launcher
    ".launcher{position:fixed;z-index:2147483000;bottom:20px;right:20px;width:60px;height:60px;border-radius:50%;background:var(--a);color:var(--on);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(var(--rgb),.35),0 2px 6px rgba(0,0,0,.15);transition:transform .2s ease,box-shadow .2s ease}",
    ".launcher:hover{transform:scale(1.06);box-shadow:0 10px 28px rgba(var(--rgb),.4),0 2px 6px rgba(0,0,0,.15)}",
    ".launcher svg{fill:currentColor;transition:transform .25s ease,opacity .2s}",
    ".left .launcher{right:auto;left:20px}",
    ".badge{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;box-shadow:0 0 0 2px #fff}",
    ".badge[hidden],[hidden]{display:none!important}",
    // nudge: greeting and previews of new messages while closed
    ".nudge{position:fixed;z-index:2147483000;bottom:92px;right:20px;max-width:300px;background:#fff;color:#111827;border-radius:14px;padding:12px 34px 12px 14px;box-shadow:0 12px 32px rgba(17,24,39,.16),0 2px 6px rgba(17,24,39,.08);font-size:14px;cursor:pointer;animation:pop .25s ease-out;text-align:left;display:block}",
    ".left .nudge{right:auto;left:20px}",
    ".nudge .who{display:block;font-weight:600;font-size:12px;color:#4b5563;margin-bottom:2px}",
    ".nudge .txt{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}",
    ".nudge .x{position:absolute;top:6px;right:6px;width:24px;height:24px;border-radius:50%;display:flex;align-items:center;justify-content:center;color:#6b7280}",
    ".nudge .x:hover{background:#f3f4f6}",
    ".nudge .x svg{fill:currentColor}",
    // panel
    ".panel{position:fixed;z-index:2147483001;bottom:92px;right:20px;width:384px;height:min(640px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:18px;overflow:hidden;box-shadow:0 24px 60px rgba(17,24,39,.22),0 4px 12px rgba(17,24,39,.08);transform-origin:bottom right;animation:open .22s cubic-bezier(.2,.8,.2,1)}",
    ".left .panel{right:auto;left:20px;transform-origin:bottom left}",
    ".inline .panel{position:relative;inset:auto;width:100%;height:100%;border-radius:inherit;box-shadow:none;animation:none}",
    "header{display:flex;align-items:center;gap:12px;padding:16px 14px 16px 18px;background:var(--a);color:var(--on)}",
    ".avatar{flex:none;width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.2);display:flex;align-items:center;justify-content:center;font-weight:700;font-size:16px}",
    ".avatar svg{fill:currentColor}",
    ".heading{flex:1;min-width:0}",
    "h2{margin:0;font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".sub{display:flex;align-items:center;gap:6px;font-size:13px;line-height:1.3;margin-top:2px}",
    ".dot{width:8px;height:8px;border-radius:50%;background:#22c55e;box-shadow:0 0 0 2px rgba(255,255,255,.5)}",
    ".dot.off{background:#f59e0b}",
    ".hbtn{flex:none;width:36px;height:36px;border-radius:50%;display:flex;align-items:center;justify-content:center;color:var(--on)}",
    ".hbtn:hover{background:rgba(255,255,255,.16)}",
    ".hbtn svg{fill:currentColor}",
    ".banner{padding:8px 16px;font-size:13px;background:#fffbeb;color:#92400e;border-bottom:1px solid #fde68a}",
    // the log
    ".log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:18px 16px 8px;display:flex;flex-direction:column;gap:2px}",
    ".row{display:flex;flex-direction:column;align-items:flex-start;max-width:100%;animation:rise .18s ease-out}",
    ".row.user{align-items:flex-end}",
    ".row.still{animation:none}",
    ".row.gap{margin-top:10px}",
    ".author{font-size:12px;font-weight:600;color:#4b5563;margin:0 0 3px 12px}",
    ".bubble{max-width:82%;width:fit-content;padding:9px 13px;border-radius:18px;background:#f1f3f6;color:#111827;overflow-wrap:anywhere;word-break:break-word;white-space:normal}",
    ".user .bubble{background:var(--a);color:var(--on)}",
    ".agent .bubble{background:#fff;border:1px solid #e5e7eb;box-shadow:inset 3px 0 0 var(--a)}",
    ".bot .bubble,.agent .bubble{border-bottom-left-radius:6px}.bot.mid .bubble,.bot.end .bubble,.agent.mid .bubble,.agent.end .bubble{border-top-left-radius:6px}",
    ".user .bubble{border-bottom-right-radius:6px}.user.mid .bubble,.user.end .bubble{border-top-right-radius:6px}",
    ".pending .bubble{opacity:.62}",
    ".failed .bubble{background:#fff;color:#991b1b;border:1px solid #fca5a5}",
    ".bubble p{margin:0}.bubble p+p,.bubble p+ul,.bubble p+ol,.bubble ul+p,.bubble ol+p,.bubble pre+p,.bubble p+pre{margin-top:6px}",
    ".bubble ul,.bubble ol{margin:2px 0;padding-left:20px}",
    ".bubble li+li{margin-top:2px}",
    ".bubble code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:rgba(17,24,39,.07);border-radius:5px;padding:1px 5px}",
    ".bubble pre{margin:4px 0;padding:9px 11px;background:#0f172a;color:#e2e8f0;border-radius:10px;overflow-x:auto;white-space:pre}",
    ".bubble pre code{background:none;padding:0;color:inherit}",
    ".user .bubble code{background:rgba(255,255,255,.2)}",
    ".bubble a{color:var(--ink);text-decoration:underline;text-underline-offset:2px}",
    ".user .bubble a{color:inherit}",
    ".cites{display:flex;flex-wrap:wrap;gap:2px 10px;margin:4px 4px 0;font-size:12.5px;color:#4b5563}.cites a{color:inherit;text-underline-offset:2px}",
    ".meta{font-size:11.5px;color:#6b7280;margin:4px 8px 2px;display:flex;gap:6px;align-items:center}",
    ".meta button{color:#991b1b;text-decoration:underline;font-size:11.5px}",
    ".sys{align-self:center;text-align:center;font-size:12.5px;color:#4b5563;background:#f3f4f6;border-radius:999px;padding:5px 12px;margin:10px 0 4px;max-width:90%}",
    ".sys.end{background:none;border-top:1px solid #e5e7eb;border-radius:0;width:100%;padding-top:10px}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 4px;justify-content:flex-start}",
    ".chip{border:1.5px solid var(--ink);color:var(--ink);background:#fff;border-radius:999px;padding:6px 14px;font-size:14px;font-weight:550;transition:background .15s,color .15s}",
    ".chip:hover{background:var(--a);border-color:var(--a);color:var(--on)}",
    ".typing{display:flex;gap:4px;align-items:center;width:fit-content;padding:13px 14px;border-radius:18px;border-bottom-left-radius:6px;background:#f1f3f6;margin-top:8px}",
    ".typing i{width:7px;height:7px;border-radius:50%;background:#9ca3af;animation:blink 1.2s infinite ease-in-out}",
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}",
    ".cur{display:inline-block;width:7px;height:14px;margin-left:3px;vertical-align:-2px;border-radius:2px;background:currentColor;opacity:.45;animation:blink 1s infinite}",
    // composer and notices
    ".composer{display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 16px;border-top:1px solid #eef0f3;background:#fff}",
    "textarea{flex:1;resize:none;border:0;outline:none;background:transparent;max-height:120px;min-height:24px;padding:8px 0;line-height:1.45;font-size:15px}",
    "textarea::placeholder{color:#6b7280}",
    "textarea:focus-visible{outline:none}",
    ".composer:focus-within{box-shadow:inset 0 2px 0 -0.5px var(--a)}",
    ".sendb{flex:none;width:40px;height:40px;border-radius:50%;background:var(--a);color:var(--on);display:flex;align-items:center;justify-content:center;transition:opacity .15s,transform .15s}",
    ".sendb svg{fill:currentColor}",
    ".sendb:disabled{opacity:.35;cursor:default}",
    ".sendb:not(:disabled):hover{transform:scale(1.06)}",
    ".notice{padding:16px 18px;border-top:1px solid #eef0f3;text-align:center;font-size:14px;color:#374151;display:flex;flex-direction:column;gap:10px;align-items:center}",
    ".cta{background:var(--a);color:var(--on);border-radius:999px;padding:9px 18px;font-weight:600;font-size:14px}",
    ".foot{text-align:center;font-size:11px;color:#6b7280;padding:0 0 8px;background:#fff}",
    // motion
    "@keyframes open{from{opacity:0;transform:translateY(12px) scale(.97)}to{opacity:1;transform:none}}",
    "@keyframes pop{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}",
    "@keyframes rise{from{opacity:0;transform:translateY(4px)}to{opacity:1;transform:none}}",
    "@keyframes blink{0%,80%,100%{opacity:.35}40%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.root *,.root *::after{animation:none!important;transition:none!important}}",
    // small screens: the panel is the whole (visual) viewport
    "@media (max-width:520px){.root:not(.inline) .panel{inset:auto;left:0;right:0;top:var(--vvt,0px);bottom:auto;width:100%;height:var(--vvh,100%);border-radius:0;animation:none}.root:not(.inline).open .launcher{display:none}.nudge{right:16px;left:16px;max-width:none}.launcher{bottom:16px;right:16px}textarea{font-size:16px}}"
  ].join("\n");

  // ---------------------------------------------------------------- building the UI
  var hostEl = document.createElement("switchboard-widget");
  if (INLINE) hostEl.setAttribute("data-inline", "");
  var shadow = hostEl.attachShadow({ mode: "open" });
  var root = h("div", { class: "root" + (data.position === "left" ? " left" : "") + (INLINE ? " inline" : ""), lang: LOCALE });
  var badge = h("span", { class: "badge", "aria-hidden": "true", hidden: true });
  var launcher = h("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "sb-panel", "aria-label": t("open"), onclick: function () { toggle(); } },
    [svg(ICON_CHAT, 28), badge]);
  var nudge = h("div", { class: "nudge", hidden: true, role: "status" });
  var titleId = "sb-title";
  var statusText = h("span", { text: t("subtitle") });
  var dot = h("span", { class: "dot", "aria-hidden": "true" });
  var closeBtn = h("button", { class: "hbtn", type: "button", "aria-label": t("close"), onclick: function () { close(); } }, [svg(ICON_DOWN, 24)]);
  var banner = h("div", { class: "banner", role: "status", hidden: true });
  var log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t("log"), tabindex: "0" });
  var typingEl = h("div", { class: "typing", role: "status", "aria-label": t("typing") }, [h("i"), h("i"), h("i")]);
  var input = h("textarea", { rows: "1", maxlength: String(MAX_TEXT), placeholder: t("placeholder"), "aria-label": t("placeholder"), enterkeyhint: "send" });
  var sendBtn = h("button", { class: "sendb", type: "submit", "aria-label": t("send"), disabled: true }, [svg(ICON_SEND, 20)]);
  var composer = h("form", { class: "composer", onsubmit: function (e) { e.preventDefault(); submit(); } }, [input, sendBtn]);
  var notice = h("div", { class: "notice", hidden: true });
  var panel = h("div", { class: "panel", id: "sb-panel", role: "dialog", "aria-modal": INLINE ? null : "true", "aria-labelledby": titleId, hidden: !INLINE },
    [
      h("header", null, [
        h("div", { class: "avatar", "aria-hidden": "true" }, [svg(ICON_CHAT, 20)]),
        h("div", { class: "heading" }, [h("h2", { id: titleId, text: TITLE }), h("div", { class: "sub" }, [dot, statusText])]),
        INLINE ? null : closeBtn
      ]),
      banner, log, composer, notice,
      h("div", { class: "foot", text: t("powered") })
    ]);
  // A constructed stylesheet where the browser has them: a host page's Content-Security-
  // Policy (style-src without 'unsafe-inline') blocks <style> elements, not these.
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(h("style", { text: STYLE }));
  }
  if (!INLINE) { root.appendChild(launcher); root.appendChild(nudge); }
  root.appendChild(panel);
  shadow.appendChild(root);

  // Accent colour: any CSS colour; text on it is white or near-black, whichever reads better.
  // (Computed once the host is in the document: a detached element has no computed style.)
  function accent(color) {
    if (!color || !(window.CSS && CSS.supports && CSS.supports("color", color))) return;
    var probe = h("span");
    probe.style.color = color; // through the CSSOM, which CSP allows
    shadow.appendChild(probe);
    var rgb = (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || []).slice(0, 3).map(Number);
    shadow.removeChild(probe);
    if (rgb.length < 3) return;
    var lum = rgb.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    var L = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    var onWhite = 1.05 / (L + 0.05), onDark = (L + 0.05) / 0.0635;
    root.style.setProperty("--a", color);
    root.style.setProperty("--rgb", rgb.join(","));
    root.style.setProperty("--on", onWhite >= onDark ? "#fff" : "#111827");
    root.style.setProperty("--ink", onWhite >= 4.5 ? color : "#1f2937");
  }

  function mount() {
    var target = INLINE && data.target ? document.querySelector(data.target) : null;
    (target || document.body || document.documentElement).appendChild(hostEl);
    accent(data.color);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---------------------------------------------------------------- rendering
  var nodes = {};  // key -> row element (message_id, "p:"+client_id or "s:"+message_id)
  function publicMsg(m) {
    return { id: m.id, seq: m.seq, role: m.role, text: m.text, author: m.author || null,
      created_at: m.at || null, choices: m.choices || null, event: m.event || null };
  }
  function speaker(m) {
    if (m.role === "user") return t("you");
    if (m.role === "agent") return m.author || t("agent");
    return TITLE;
  }
  function timeLabel(at) {
    var d = new Date(at), now = new Date();
    var same = d.toDateString() === now.toDateString();
    return (same ? "" : DAY.format(d) + ", ") + TIME.format(d);
  }
  /** The rows to show, in order: stored messages, replies streaming, then pending. */
  function items() {
    var list = held ? [] : S.msgs.map(function (m) { return { key: m.id, m: m }; });
    if (!held) {
      Object.keys(streams).forEach(function (id) {
        if (!hasMsg(id)) list.push({ key: "s:" + id, m: { id: id, role: "bot", text: streams[id], at: Date.now() }, streaming: true });
      });
      S.pending.forEach(function (p) {
        list.push({ key: "p:" + p.cid, m: { id: p.mid, role: "user", text: p.text, at: p.at }, pending: p });
      });
    }
    return list;
  }
  function render() {
    var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    var list = items(), keep = {}, prev = null;
    var lastDurable = null;
    for (var i = list.length - 1; i >= 0; i--) if (!list[i].streaming) { lastDurable = list[i]; break; }
    list.forEach(function (it, idx) {
      var m = it.m, next = list[idx + 1];
      var group = function (a, b) {
        return a && b && a.m.role === b.m.role && a.m.role !== "system" && (a.m.author || "") === (b.m.author || "") && Math.abs((b.m.at || 0) - (a.m.at || 0)) < 180000;
      };
      var first = !group(prev, it), last = !group(it, next);
      var choices = it === lastDurable && m.role === "bot" && Array.isArray(m.choices) && m.choices.length && S.status !== "ended" ? m.choices : null;
      var sig = [m.text, first, last, it.pending ? (it.pending.failed || (it.pending.mid ? "acked" : conn)) : "", choices ? choices.join("\u0001") : "", it.streaming ? 1 : 0].join("\u0002");
      var el = nodes[it.key];
      if (!el || el._sig !== sig) {
        var fresh = row(it, first, last, choices);
        fresh._sig = sig;
        if (el) { fresh.classList.add("still"); el.replaceWith(fresh); }
        el = nodes[it.key] = fresh;
      }
      keep[it.key] = true;
      if (el.parentNode !== log || (prev ? nodes[prev.key].nextSibling !== el : log.firstChild !== el)) {
        log.insertBefore(el, prev ? nodes[prev.key].nextSibling : log.firstChild);
      }
      prev = it;
    });
    Object.keys(nodes).forEach(function (k) { if (!keep[k]) { nodes[k].remove(); delete nodes[k]; } });
    var showTyping = typing && !held && !Object.keys(streams).some(function (id) { return !hasMsg(id); });
    if (showTyping) log.appendChild(typingEl); else if (typingEl.parentNode) typingEl.remove();
    renderChrome();
    if (nearBottom || !isOpen) scrollDown();
  }
  function row(it, first, last, choices) {
    var m = it.m, role = m.role === "agent" || m.role === "system" || m.role === "user" ? m.role : "bot";
    if (role === "system") {
      return h("div", { class: "row" }, [h("div", { class: "sys" + (m.event === "ended" ? " end" : "") }, [h("span", { class: "sr", text: speaker(m) + ": " }), m.text])]);
    }
    var cls = "row " + role + (first ? " gap" : "") + (first && last ? "" : first ? " top" : last ? " end" : " mid");
    if (it.pending) cls += it.pending.failed ? " failed" : it.pending.mid ? "" : " pending";
    var bubble = h("div", { class: "bubble" + (it.streaming ? " caret" : "") }, [h("span", { class: "sr", text: speaker(m) + ": " })]);
    var cites = m.cites && m.cites.length ? m.cites : null;
    // With its sources as links below, a reply's own "Sources:" line is not repeated.
    markdown(cites ? m.text.replace(/\n\nSources: [^\n]*$/, "") : m.text, bubble);
    if (it.streaming) {
      // The cursor goes at the end of the text, inside its last paragraph or list item.
      var tail = bubble.lastElementChild;
      if (tail && (tail.tagName === "UL" || tail.tagName === "OL")) tail = tail.lastElementChild;
      (tail && tail.tagName !== "PRE" ? tail : bubble).appendChild(h("span", { class: "cur" }));
    }
    var kids = [];
    if (role === "agent" && first) kids.push(h("div", { class: "author", "aria-hidden": "true", text: speaker(m) }));
    kids.push(bubble);
    if (cites) {
      kids.push(h("div", { class: "cites" }, cites.map(function (c, i) {
        var label = "[" + (i + 1) + "] " + c.title;
        // Only web links become links (never javascript: or data: URLs).
        return /^https?:\/\//i.test(c.url) ? h("a", { href: c.url, target: "_blank", rel: "noopener noreferrer", text: label }) : h("span", { text: label });
      })));
    }
    if (it.pending && !it.pending.mid) {
      var p = it.pending;
      kids.push(h("div", { class: "meta" }, p.failed
        ? [t("notSent") + " · " + p.failed, h("button", { type: "button", text: t("remove"), onclick: function () { dropPending(p.cid); } })]
        : [joined ? t("sending") : t("waiting")]));
    } else if (last && !it.streaming && m.at) {
      kids.push(h("div", { class: "meta" }, [h("time", { datetime: new Date(m.at).toISOString(), text: timeLabel(m.at) })]));
    }
    if (choices) {
      kids.push(h("div", { class: "chips", role: "group", "aria-label": m.text.slice(0, 80) }, choices.map(function (c) {
        return h("button", { class: "chip", type: "button", text: c, onclick: function () { sendText(String(c)); } });
      })));
    }
    var el = h("div", { class: cls, "aria-hidden": it.streaming ? "true" : null }, kids);
    el._streaming = !!it.streaming;
    return el;
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function setBanner(text) { banner.textContent = text || ""; banner.hidden = !text; }
  function renderChrome() {
    var offline = conn === "offline" || (conn === "connecting" && attempt > 0);
    dot.className = "dot" + (conn === "online" ? "" : " off");
    statusText.textContent = conn === "online" || conn === "idle" ? (data.subtitle || t("subtitle")) : conn === "connecting" && !attempt ? t("connecting") : t("reconnecting");
    setBanner(mode === "chat" && offline && S.pending.some(function (p) { return !p.failed; }) ? t("offline") : "");
    var blocking = mode !== "chat" ? mode : S.status === "ended" && !held ? "ended" : "";
    composer.hidden = !!blocking;
    notice.hidden = !blocking;
    if (notice._mode !== blocking) {
      notice._mode = blocking;
      notice.textContent = "";
      if (blocking === "ended") {
        notice.appendChild(h("div", { text: t("ended") }));
        notice.appendChild(h("button", { class: "cta", type: "button", text: t("newChat"), onclick: newConversation }));
      } else if (blocking === "identity" || blocking === "identityExpired") {
        notice.appendChild(h("div", { text: t(blocking) }));
        notice.appendChild(h("button", { class: "cta", type: "button", text: t("guest"), onclick: function () { api.identify(null); } }));
      } else if (blocking === "unavailable") {
        notice.appendChild(h("div", { text: data.unavailableText || t("unavailable") }));
      } else if (blocking === "blocked") {
        notice.appendChild(h("div", { text: t("blocked") }));
      }
    }
    sendBtn.disabled = !input.value.trim();
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = !unread || isOpen;
    launcher.setAttribute("aria-label", isOpen ? t("close") : unread ? t("openUnread", unread) : t("open"));
  }

  // ---------------------------------------------------------------- the protocol
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function transmit(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function connect() {
    if (ws || mode !== "chat" || held) return;
    clearTimeout(retryTimer);
    conn = "connecting"; renderChrome();
    var sock;
    try { sock = new WebSocket(WS_URL); } catch (e) { return retry(); }
    ws = sock;
    sock.onopen = function () { if (ws === sock) hello(); };
    sock.onmessage = function (e) {
      if (ws !== sock) return;
      var f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (f && typeof f.type === "string") receive(f);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null; joined = false;
      if (mode !== "chat") { conn = "idle"; renderChrome(); return; }
      conn = "offline"; render();
      retry();
    };
  }
  function retry() {
    clearTimeout(retryTimer);
    var delay = Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
    retryTimer = setTimeout(connect, delay);
  }
  function reconnectNow() {
    if (ws || mode !== "chat" || held) return;
    attempt = Math.min(attempt, 1);
    connect();
  }
  function disconnect() {
    clearTimeout(retryTimer);
    var sock = ws; ws = null; joined = false;
    if (sock) try { sock.close(1000); } catch (e) { /* already closed */ }
  }
  function hello() {
    var frame = { type: "hello", tenant: TENANT, visitor_token: S.visitor_token || null,
      conversation_id: S.conversation_id || null, last_seq: S.conversation_id ? (S.last_seq || 0) : null };
    if (identity) frame.identity = identity;
    if (PREVIEW) frame.preview = PREVIEW;
    transmit(frame);
  }
  function receive(f) {
    switch (f.type) {
      case "welcome": return welcome(f);
      case "message": return message(f);
      case "reply.delta": return delta(f);
      case "ack": return ack(f);
      case "error": return error(f);
      case "typing": return agentTyping(f);
    }
  }
  // A human agent types: the dots show for a few seconds (or until their message).
  function agentTyping(f) {
    if (f.role !== "agent") return;
    typingEl.setAttribute("aria-label", (f.author ? String(f.author) + ": " : "") + t("typing"));
    typing = true;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing = false; render(); }, 4000);
    render();
  }
  function welcome(f) {
    joined = true; attempt = 0; conn = "online";
    if (f.conversation_id !== S.conversation_id) {
      S.msgs = []; S.last_seq = 0; S.status = "active"; streams = {}; S.since = Date.now();
    }
    S.conversation_id = f.conversation_id;
    S.visitor_token = f.visitor_token;
    if (typeof f.last_seq === "number" && S.last_seq > f.last_seq) {
      // The server has less than we cached (resume_gap): drop what it never stored.
      S.msgs = S.msgs.filter(function (m) { return m.seq <= f.last_seq; });
      S.last_seq = f.last_seq;
    }
    if (f.status) S.status = f.status;
    save();
    S.pending.forEach(function (p) { if (!p.failed) send(p); });
    render();
  }
  function message(f) {
    if (typeof f.seq !== "number" || !f.message_id) return;
    delete streams[f.message_id];
    var known = hasMsg(f.message_id) || S.msgs.some(function (m) { return m.seq === f.seq; });
    if (!known) {
      var m = { id: f.message_id, seq: f.seq, role: f.role, text: String(f.text || ""), at: f.created_at || Date.now() };
      if (f.author) m.author = String(f.author);
      if (Array.isArray(f.choices)) m.choices = f.choices.map(String).slice(0, 12);
      if (f.event) m.event = String(f.event);
      if (Array.isArray(f.citations)) m.cites = f.citations.slice(0, 8).map(function (c) { return { title: String(c.title || ""), url: String(c.url || "") }; });
      S.msgs.push(m);
      S.msgs.sort(function (a, b) { return a.seq - b.seq; });
      if (m.event === "ended") S.status = "ended";
      else if (m.event === "handoff" || m.event === "takeover") S.status = "handoff";
      else if (m.event === "resolved") S.status = "active";
      if (m.role !== "user") {
        typing = false;
        if (!isOpen && !INLINE) { unread++; showNudge(speaker(m), m.text); emit("unread", { count: unread }); }
      }
    }
    S.last_seq = Math.max(S.last_seq || 0, f.seq);
    // A message typed in another tab may arrive here before that tab's ack reaches us
    // through storage: it settles that bubble, found by the client id the server echoes.
    // The other tab still owns it (it is not marked acked), so nothing typed there is
    // ever dropped.
    var settles = null;
    if (!known && f.role === "user" && f.client_id) {
      settles = S.pending.filter(function (p) { return p.foreign && !p.mid && p.cid === f.client_id; })[0] || null;
      if (settles) shown[settles.cid] = true;
    }
    S.pending = S.pending.filter(function (p) {
      if (p !== settles && p.mid !== f.message_id) return true;
      // The pending bubble becomes the stored message in place (no second entrance).
      if (nodes["p:" + p.cid] && !nodes[f.message_id]) { nodes[f.message_id] = nodes["p:" + p.cid]; delete nodes["p:" + p.cid]; }
      return false;
    });
    save();
    render();
    if (!known) emit("message", publicMsg(S.msgs.filter(function (m) { return m.id === f.message_id; })[0]));
  }
  function delta(f) {
    if (hasMsg(f.message_id)) return;
    var sofar = streams[f.message_id] || "";
    // offset counts Unicode scalar values; a stream joined midway is left to its final message.
    if (Array.from(sofar).length !== f.offset) return;
    streams[f.message_id] = sofar + String(f.text || "");
    typing = false;
    render();
  }
  function ack(f) {
    var p = S.pending.filter(function (x) { return x.cid === f.client_id; })[0];
    if (S.acked.indexOf(f.client_id) < 0) S.acked = S.acked.concat([f.client_id]).slice(-100);
    if (p) {
      p.mid = f.message_id;
      if (hasMsg(f.message_id)) S.pending = S.pending.filter(function (x) { return x !== p; });
      if (S.status !== "handoff") startTyping();
    }
    save(); render();
  }
  function error(f) {
    var code = f.code, p = f.client_id && S.pending.filter(function (x) { return x.cid === f.client_id; })[0];
    if (p) {
      if (code === "rate_limited" || code === "unavailable" || code === "cluster_unavailable" || code === "hello_required") {
        setTimeout(function () { if (joined && S.pending.indexOf(p) >= 0) send(p); }, 1500 + Math.random() * 1500);
      } else if (code === "conversation_ended") {
        // Not stored: hand the text back so the visitor can take it to a new conversation.
        S.pending = S.pending.filter(function (x) { return x !== p; });
        if (!input.value) input.value = p.text;
        S.status = "ended"; typing = false;
      } else {
        p.failed = code === "text_too_long" ? t("tooLong") : t("failed");
      }
      save(); render();
      return;
    }
    switch (code) {
      case "invalid_visitor_token": {
        var waiting = S.pending;
        S = fresh(S.who); S.pending = waiting; save(); render(); return hello();
      }
      case "conversation_not_found":
        S.conversation_id = null; S.msgs = []; S.last_seq = 0; S.status = "active"; save(); render(); return hello();
      case "not_available": case "unknown_tenant": case "invalid_preview":
        return halt("unavailable");
      case "origin_not_allowed":
        return halt("blocked");
      case "invalid_identity": case "identity_expired":
        return halt(code === "identity_expired" ? "identityExpired" : "identity");
      case "rate_limited": case "unavailable": case "cluster_unavailable":
        if (!joined) { disconnect(); conn = "offline"; render(); retry(); }
        return;
      case "resume_gap": // the welcome that follows says what the server has
        return;
      default:
        if (window.console) console.warn("Switchboard widget: " + code + ": " + f.message);
    }
  }
  /** Stops connecting and shows why; open() or identify() may start again. */
  function halt(why) {
    mode = why; typing = false; disconnect(); conn = "idle";
    if (why === "identity" || why === "identityExpired") { S = fresh(S.who); streams = {}; }
    render();
  }
  function startTyping() {
    typingEl.setAttribute("aria-label", t("typing"));
    typing = true;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing = false; render(); }, 30000);
  }
  function send(p) {
    transmit({ type: "message", client_id: p.cid, text: p.text });
  }
  function sendText(text) {
    text = String(text).trim();
    if (!text || mode !== "chat" || S.status === "ended") return false;
    if (held) release();
    var p = { cid: uuid(), text: text.slice(0, MAX_TEXT), at: Date.now() };
    S.pending.push(p);
    save(); render(); scrollDown();
    if (joined) send(p); else { reconnectNow(); connect(); }
    return true;
  }
  function submit() {
    if (sendText(input.value)) { input.value = ""; grow(); renderChrome(); }
  }
  function dropPending(cid) {
    S.pending = S.pending.filter(function (p) { return p.cid !== cid; });
    save(); render();
  }
  function newConversation() {
    disconnect();
    S = { who: S.who, visitor_token: S.visitor_token, conversation_id: null, last_seq: 0, status: "active", msgs: [], pending: [], acked: S.acked };
    streams = {}; typing = false; nodes = {}; log.textContent = "";
    try { localStorage.setItem(KEY, JSON.stringify(S)); } catch (e) { /* unpersisted */ }
    render(); connect();
    input.focus();
  }
  /** The page did not vouch for the identified visitor whose history is stored: forget it. */
  function release() {
    if (!held) return;
    held = false; identity = null;
    S = fresh("anon");
    try { localStorage.setItem(KEY, JSON.stringify(S)); } catch (e) { /* unpersisted */ }
  }

  // ---------------------------------------------------------------- open, close, nudges
  function open() {
    if (INLINE) return;
    if (held) release();
    if (mode === "unavailable") mode = "chat"; // try again; the other refusals keep showing why
    if (isOpen) return;
    isOpen = true; unread = 0;
    root.classList.add("open");
    panel.hidden = false;
    hideNudge(true);
    launcher.setAttribute("aria-expanded", "true");
    launcher.replaceChildren(svg(ICON_CLOSE, 24), badge);
    session("open", "1");
    fitViewport();
    render(); scrollDown();
    connect();
    (window.matchMedia && matchMedia("(max-width:520px)").matches ? closeBtn : (composer.hidden ? panel.querySelector(".cta") || closeBtn : input)).focus();
    emit("unread", { count: 0 });
    emit("open");
  }
  function close() {
    if (INLINE || !isOpen) return;
    var inside = shadow.activeElement && panel.contains(shadow.activeElement);
    isOpen = false;
    root.classList.remove("open");
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.replaceChildren(svg(ICON_CHAT, 28), badge);
    session("open", null);
    renderChrome();
    if (inside || shadow.activeElement === launcher) launcher.focus();
    emit("close");
  }
  function toggle() { if (isOpen) close(); else open(); }
  function showNudge(who, text) {
    if (isOpen || INLINE) return;
    nudge.textContent = "";
    nudge.appendChild(h("span", { class: "who", text: who }));
    nudge.appendChild(h("span", { class: "txt", text: String(text).replace(/[*_`#>]+/g, "").slice(0, 240) }));
    nudge.appendChild(h("button", { class: "x", type: "button", "aria-label": t("dismiss"), onclick: function (e) { e.stopPropagation(); hideNudge(true); } }, [svg(ICON_CLOSE, 14)]));
    nudge.hidden = false;
  }
  function hideNudge(dismissed) {
    clearTimeout(nudgeTimer);
    nudge.hidden = true;
    if (dismissed && data.greeting) session("greeted", "1");
  }
  nudge.addEventListener("click", function () { open(); });

  // ---------------------------------------------------------------- keyboard and focus
  function focusables() {
    var list = Array.prototype.filter.call(panel.querySelectorAll("button,textarea,a[href],[tabindex]:not([tabindex='-1'])"), function (el) {
      return !el.disabled && el.getClientRects().length;
    });
    if (launcher.getClientRects().length) list.push(launcher);
    return list;
  }
  root.addEventListener("keydown", function (e) {
    if (!isOpen) return;
    if (e.key === "Escape") { e.preventDefault(); close(); launcher.focus(); return; }
    if (e.key !== "Tab") return;
    // The cycle is the panel's controls, then the launcher (which closes it).
    var list = focusables(), i = list.indexOf(shadow.activeElement);
    if (!list.length) return;
    e.preventDefault();
    list[(i < 0 ? 0 : i + (e.shiftKey ? list.length - 1 : 1)) % list.length].focus();
  });
  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }
  var typedAt = 0;
  input.addEventListener("input", function () {
    grow(); sendBtn.disabled = !input.value.trim();
    // With a person on the other side, say we are typing (at most every 2 s).
    if (S.status === "handoff" && joined && input.value.trim() && Date.now() - typedAt > 2000) {
      typedAt = Date.now(); transmit({ type: "typing" });
    }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });

  // Keep the panel within the visual viewport, so the on-screen keyboard never covers the input.
  function fitViewport() {
    var vv = window.visualViewport;
    if (!vv || INLINE) return;
    panel.style.setProperty("--vvh", vv.height + "px");
    panel.style.setProperty("--vvt", vv.offsetTop + "px");
    if (isOpen && shadow.activeElement === input) scrollDown();
  }
  if (window.visualViewport) {
    visualViewport.addEventListener("resize", fitViewport);
    visualViewport.addEventListener("scroll", fitViewport);
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) reconnectNow(); });
  window.addEventListener("storage", function (e) {
    if (e.key !== KEY || held) return;
    var other = load();
    if (superseded(other)) {
      // Another tab started a new conversation: follow it.
      S = other; S.pending = S.pending || []; S.acked = S.acked || []; S.msgs = S.msgs || [];
      streams = {}; typing = false;
      disconnect(); render(); connect();
    } else if (merge(other)) render();
  });

  // ---------------------------------------------------------------- public API
  function emit(name, payload) {
    (handlers[name] || []).slice().forEach(function (fn) {
      try { fn(payload); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }
  var api = {
    version: "1",
    open: open,
    close: close,
    toggle: toggle,
    /** Subscribes to ready | open | close | message | unread; returns an unsubscribe function. */
    on: function (name, fn) {
      if (typeof fn !== "function") return function () {};
      (handlers[name] = handlers[name] || []).push(fn);
      if (name === "ready" && readyFired) setTimeout(function () { fn(); });
      return function () { handlers[name] = (handlers[name] || []).filter(function (g) { return g !== fn; }); };
    },
    /** Signs the visitor in with a JWT from the tenant's backend; null signs them out. */
    identify: function (token) {
      var who = "anon";
      if (token) {
        try {
          var part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
          var sub = JSON.parse(decodeURIComponent(escape(atob(part)))).sub;
          who = "sub:" + (typeof sub === "string" ? sub : "?");
        } catch (e) { who = "sub:?"; }
      }
      identity = token ? String(token) : null;
      held = false;
      if (who !== S.who) {
        S = fresh(who); streams = {}; typing = false; nodes = {}; log.textContent = "";
        save();
      }
      if (mode !== "chat") mode = "chat";
      disconnect();
      render();
      if (isOpen || INLINE || S.conversation_id) connect();
    },
    get unread() { return unread; },
    get isOpen() { return isOpen; }
  };
  window.Switchboard = api;

  // ---------------------------------------------------------------- start
  render();
  // Calls queued before the script loaded: window.Switchboard = {q: [["identify", token], …]}.
  if (previous && Array.isArray(previous.q)) previous.q.forEach(function (call) {
    if (call && typeof api[call[0]] === "function") api[call[0]].apply(api, call.slice(1));
  });
  if (INLINE) connect();
  else if (data.open !== undefined && data.open !== "false" || session("open")) open();
  else if (S.conversation_id && !held) connect();   // to hear replies and show unread
  if (data.greeting && !isOpen && !session("greeted") && !(S.msgs.length && !held)) {
    nudgeTimer = setTimeout(function () { if (!isOpen) showNudge(TITLE, data.greeting); }, 1200);
  }
  setTimeout(function () {
    readyFired = true;
    emit("ready");
    try { window.dispatchEvent(new CustomEvent("switchboard:ready")); } catch (e) { /* old browsers */ }
  });
})();
