// matinee's edge hit path in nginx (njs): which signed requests nginx may answer from disk.
//
// `js_set $edge_file edge.file` names the object key (`media/assets/<id>/...`) when everything
// matinee's Python edge would check holds: GET or HEAD; a raw path of plain characters with no
// `.`, `..` or empty segment and no percent-encoding; a v1 token whose HMAC-SHA256 signature
// matches the fleet's key, not expired, bound to a prefix of the path and,
// when bound to an address, to the client's; not a manifest. When the token caps the height it
// also sets `$edge_gate`, a file that exists once the Python edge has allowed that rendition
// folder at that cap (see gateOf); nginx checks it before serving.
//
// Anything else yields "" and nginx hands the request to the Python edge as it came, which
// answers it: the 400 or 403 in plain words, a miss filled from a peer or the origin, a
// manifest cut to the token's height. So this file only ever decides "serve it", never "refuse".
// The token format is matinee.delivery.tokens; the path rules are matinee.delivery.paths.

var crypto = require('crypto');

// Read once, when nginx loads this file: the edge starts nginx with them in its environment
// (so the key is in no file).
var KEY = Buffer.from(process.env.MATINEE_EDGE_KEY_HEX || '', 'hex');
var TRUST_FORWARDED = process.env.MATINEE_EDGE_TRUST_FORWARDED === '1';
var GATES = process.env.MATINEE_EDGE_GATES || '';
var OPEN = GATES + '/open';

var MEDIA_PATH = /^media\/assets\/[A-Za-z0-9_\-.~\/]+$/;
// An empty, `.` or `..` segment, a trailing slash, or a manifest (the Python edge cuts those).
var NOT_SERVED = /\/\/|\/$|(^|\/)\.\.?(\/|$)|\.m3u8$|\.mpd$/;
var PART = /^[A-Za-z0-9_-]+$/;
var MAX_PATH = 1024;
var MAX_TOKEN = 2048;

function claimsOf(token) {
    if (token.length > MAX_TOKEN || token.slice(0, 3) !== 'v1.') {
        return null;
    }
    var dot = token.indexOf('.', 3);
    var payload = token.slice(3, dot);
    var signature = token.slice(dot + 1);
    if (dot < 0 || !PART.test(payload) || !PART.test(signature)) {
        return null;
    }
    var mac = crypto.createHmac('sha256', KEY).update(token.slice(0, dot));
    if (mac.digest('base64url') !== signature) {
        return null;
    }
    try {
        var claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    } catch (e) {
        return null;
    }
    if (typeof claims !== 'object' || claims === null || typeof claims.p !== 'string'
        || !Number.isInteger(claims.e)) {
        return null;
    }
    return claims;
}

function clientIp(r) {
    if (TRUST_FORWARDED) {
        var forwarded = r.headersIn['X-Forwarded-For'];
        if (forwarded) {
            return forwarded.split(',')[0].trim();
        }
    }
    return r.variables.remote_addr;
}

// The file whose existence says this token's height cap allows the path's rendition folder:
// `gates/<prefix><folder>/<cap>`, made by the Python edge once it has judged that folder for
// that cap (it reads the title's master playlist to know the heights). nginx tests it with
// `-f` (through its open-file cache); until it exists, the Python edge judges. A token without
// a cap, or a file in no folder, needs only `gates/open`, which always exists.
function gateOf(claims, path) {
    if (claims.h === undefined) {
        return OPEN;
    }
    if (!Number.isInteger(claims.h)) {
        return '';
    }
    var slash = path.lastIndexOf('/');
    if (slash < claims.p.length) {
        return OPEN;
    }
    return GATES + '/' + path.slice(0, slash) + '/' + claims.h;
}

function file(r) {
    if (KEY.length === 0 || (r.method !== 'GET' && r.method !== 'HEAD')) {
        return '';
    }
    var uri = r.variables.request_uri;
    var slash = uri.indexOf('/', 3);
    if (uri.slice(0, 3) !== '/t/' || slash < 0) {
        return '';
    }
    var path = uri.slice(slash + 1);
    if (path.length > MAX_PATH || !MEDIA_PATH.test(path) || NOT_SERVED.test(path)) {
        return '';  // also any query string or percent-encoding: not in MEDIA_PATH
    }
    var claims = claimsOf(uri.slice(3, slash));
    if (claims === null || Date.now() / 1000 >= claims.e) {
        return '';
    }
    var prefix = claims.p;
    if (prefix.slice(-1) !== '/' || path.slice(0, prefix.length) !== prefix) {
        return '';
    }
    if (claims.ip !== undefined && claims.ip !== clientIp(r)) {
        return '';
    }
    var gate = gateOf(claims, path);
    if (gate === '') {
        return '';
    }
    r.variables.edge_gate = gate;
    return path;
}

export default {file};
