// matinee's edge hit path in nginx (njs): which signed requests nginx may answer from disk.
//
// `js_set $edge_file edge.file` names the object key (`media/assets/<id>/...`) when everything
// matinee's Python edge would check holds: GET or HEAD; a raw path of plain characters with no
// `.`, `..` or empty segment and no percent-encoding; a v1 token whose HMAC-SHA256 signature
// matches the fleet's key (`$edge_key_hex`), not expired, bound to a prefix of the path and,
// when bound to an address, to the client's; not a manifest. When the token caps the height it
// also sets `$edge_gate`, a file that exists once the Python edge has allowed that rendition
// folder at that cap (see gateOf); nginx checks it before serving.
//
// Anything else yields "" and nginx hands the request to the Python edge as it came, which
// answers it: the 400 or 403 in plain words, a miss filled from a peer or the origin, a
// manifest cut to the token's height. So this file only ever decides "serve it", never "refuse".
// The token format is matinee.delivery.tokens; the path rules are matinee.delivery.paths.

var crypto = require('crypto');

var PLAIN = /^[A-Za-z0-9_\-.~\/]+$/;
var PART = /^[A-Za-z0-9_-]+$/;
var MEDIA = 'media/assets/';
var MAX_PATH = 1024;
var MAX_TOKEN = 2048;

function plainPath(path) {
    if (path.length === 0 || path.length > MAX_PATH || !PLAIN.test(path)) {
        return false;
    }
    var segments = path.split('/');
    for (var i = 0; i < segments.length; i++) {
        var s = segments[i];
        if (s === '' || s === '.' || s === '..') {
            return false;
        }
    }
    return true;
}

function claimsOf(r, token) {
    if (token.length > MAX_TOKEN) {
        return null;
    }
    var parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1' || !PART.test(parts[1]) || !PART.test(parts[2])) {
        return null;
    }
    var key = Buffer.from(r.variables.edge_key_hex, 'hex');
    var mac = crypto.createHmac('sha256', key).update(parts[0] + '.' + parts[1]);
    if (mac.digest('base64url') !== parts[2]) {
        return null;
    }
    try {
        var claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
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
    if (r.variables.edge_trust_forwarded === '1') {
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
function gateOf(r, claims, path) {
    var root = r.variables.edge_gates_root;
    if (claims.h === undefined) {
        return root + '/open';
    }
    if (!Number.isInteger(claims.h)) {
        return '';
    }
    var rest = path.slice(claims.p.length);
    var slash = rest.lastIndexOf('/');
    if (slash < 0) {
        return root + '/open';
    }
    return root + '/' + claims.p + rest.slice(0, slash) + '/' + claims.h;
}

function file(r) {
    if (r.method !== 'GET' && r.method !== 'HEAD') {
        return '';
    }
    var uri = r.variables.request_uri;
    if (uri.indexOf('?') >= 0 || uri.slice(0, 3) !== '/t/') {
        return '';
    }
    var slash = uri.indexOf('/', 3);
    if (slash < 0) {
        return '';
    }
    var token = uri.slice(3, slash);
    var path = uri.slice(slash + 1);
    if (path.slice(0, MEDIA.length) !== MEDIA || !plainPath(path)
        || path.slice(-5) === '.m3u8' || path.slice(-4) === '.mpd') {
        return '';
    }
    var claims = claimsOf(r, token);
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
    var gate = gateOf(r, claims, path);
    if (gate === '') {
        return '';
    }
    r.variables.edge_gate = gate;
    return path;
}

export default {file};
