/**
 * A lab link's query part as the browser hands it over, before the page reads it (link.ts,
 * parseLabQuery): the server (site.ts) and index.html use this to keep a query that does not
 * decode from breaking the page.
 */

/**
 * The query with every part that does not decode (a stray "%", half a UTF-8 sequence) made
 * literal ("%" → "%25"), or null when all of it decodes. tfjs-core decodes location.search for its
 * debug flags when it loads, and a part that does not decode throws there and breaks the page: the
 * server redirects to the repaired query (site.ts), and index.html repairs it the same way before
 * the bundle loads (REPAIR_QUERY_SCRIPT) for a static host.
 */
export function repairQuery(search: string): string | null {
  const body = search.startsWith('?') ? search.slice(1) : search;
  let changed = false;
  const parts = body.split('&').map((part) => {
    try {
      decodeURIComponent(part);
      return part;
    } catch {
      changed = true;
      return part.replace(/%/g, '%25');
    }
  });
  return changed ? `?${parts.join('&')}` : null;
}

/** repairQuery for index.html, as a classic script that runs before the module bundle. */
export const REPAIR_QUERY_SCRIPT =
  "(function(){var s=location.search.slice(1),c=false;var p=s.split('&').map(function(x){" +
  "try{decodeURIComponent(x);return x}catch(e){c=true;return x.replace(/%/g,'%25')}});" +
  "if(c)history.replaceState(null,'',location.pathname+'?'+p.join('&')+location.hash)})();";
