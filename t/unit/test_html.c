/* HTML -> Markdown: one small page per rule, checked on exact output. */
#include "rag_html.h"
#include "rag_buf.h"
#include "unit.h"

#include <stdlib.h>

static char md[65536];
static char title[1024];

static int
conv(const char *html, const char *sel)
{
    rag_html_doc d;
    char err[256];

    md[0] = title[0] = '\0';
    if (rag_html_convert(html, strlen(html), "https://docs.x.org/guide/page",
                         sel, NULL, &d, err, sizeof(err)) != 0) {
        fprintf(stderr, "convert: %s\n", err);
        return -1;
    }
    snprintf(md, sizeof(md), "%s", d.markdown);
    snprintf(title, sizeof(title), "%s", d.title);
    rag_html_doc_free(&d);
    return 0;
}

#define HAS(s) CHECK(strstr(md, (s)) != NULL)
#define HASNT(s) CHECK(strstr(md, (s)) == NULL)

static void
test_headings(void)
{
    CHECK_INT(conv("<html><head><title>T</title></head><body><main>"
                   "<h1 id=top>Top</h1>"
                   "<h2><a id=inner></a>Inner</h2>"
                   "<div class=sect1 id=SECT><div class=titlepage><div>"
                   "<h2 class=title>1.2. Parent\xe2\x80\x8b id</h2>"
                   "</div></div><p>x</p></div>"
                   "<section id=sphinx-sec><h3>Sphinx<a class=headerlink "
                   "href='#sphinx-sec'>\xc2\xb6</a></h3></section>"
                   "<h4 class=anchor id=docu>Docu<a href=#docu "
                   "class=hash-link>\xe2\x80\x8b</a></h4>"
                   "<h5>No id</h5></main></body></html>",
                   NULL),
              0);
    CHECK_STR(title, "T");
    HAS("# Top {#top}\n");
    HAS("## Inner {#inner}\n");
    HAS("## 1.2. Parent id {#SECT}\n");
    HAS("### Sphinx {#sphinx-sec}\n");
    HAS("#### Docu {#docu}\n");
    HAS("##### No id\n");
    HASNT("\xc2\xb6");
    /* title falls back to the first h1 */
    CHECK_INT(conv("<body><article><h1>Only <code>h1</code></h1></article>"
                   "</body>",
                   NULL),
              0);
    CHECK_STR(title, "Only h1");
}

static void
test_code(void)
{
    CHECK_INT(
        conv("<main><pre><code class='language-python'>print(1)\n"
             "</code></pre>"
             "<div class='highlight-sql notranslate'><div class=highlight>"
             "<pre><span></span>SELECT 1;</pre></div></div>"
             "<pre class='sourceCode bash'><code>ls</code></pre>"
             "<div class='language-js codeBlockContainer_x'><pre "
             "class='prism-code language-js'><code><div class=token-line>"
             "<span>a()</span><br></div><div class=token-line>"
             "<span>b()</span><br></div></code></pre></div>"
             "<pre>has ``` fence\n  indented</pre>"
             "<p>Use <code>x `y`</code> and <code>`z</code>.</p>"
             "</main>",
             NULL),
        0);
    HAS("```python\nprint(1)\n```");
    HAS("```sql\nSELECT 1;\n```");
    HAS("```bash\nls\n```");
    HAS("```js\na()\nb()\n```");
    HAS("````\nhas ``` fence\n  indented\n````");
    HAS("Use `` x `y` `` and `` `z ``.");
    /* a class token cut short by a character no language has leaves no
     * language (fuzz_html found "```a" + stack bytes) */
    CHECK_INT(conv("<main><pre class='language-a?ble'>x</pre></main>", NULL),
              0);
    HAS("```\nx\n```");
    HASNT("```a");
    CHECK_INT(
        conv("<main><pre class='language-a?b lang-go'>y</pre></main>", NULL),
        0);
    HAS("```go\ny\n```");
}

static void
test_table(void)
{
    CHECK_INT(conv("<main><table><thead><tr><th>Name</th><th>Note</th></tr>"
                   "</thead><tbody><tr><td>a|b</td><td>line1<br>line2</td>"
                   "</tr><tr><td colspan=2><p>wide</p></td></tr></tbody>"
                   "</table></main>",
                   NULL),
              0);
    HAS("| Name | Note |\n|---|---|\n| a\\|b | line1 line2 |\n| wide |  |\n");
}

static void
test_lists(void)
{
    CHECK_INT(conv("<main><ol start=3><li>three<ol><li>a</li><li>b</li>"
                   "</ol></li><li>four</li></ol><ul><li><p>p</p>"
                   "<ul><li>deep</li></ul></li></ul></main>",
                   NULL),
              0);
    HAS("3. three\n\n   1. a\n   2. b\n4. four\n");
    HAS("- p\n\n  - deep\n");
}

static void
test_links(void)
{
    CHECK_INT(conv("<main><p><a href='https://other.org/app'>abs</a> "
                   "<a href='/docs/x'>root</a> <a href='y'>rel</a> "
                   "<a href='#sec'>frag</a> <a href='mailto:a@b.c'>mail</a> "
                   "<img src='../img/a.png' alt='A'> "
                   "<img src='data:image/png;base64,xx' alt='inline'>"
                   "<a href='/p(1)'>paren</a></p></main>",
                   NULL),
              0);
    /* not "https://docs.x.org/https://other.org/app" */
    HAS("[abs](https://other.org/app)");
    HAS("[root](https://docs.x.org/docs/x)");
    HAS("[rel](https://docs.x.org/guide/y)");
    HAS("[frag](https://docs.x.org/guide/page#sec)");
    HAS(" mail ");
    HAS("![A](https://docs.x.org/img/a.png)");
    HASNT("data:");
    HAS("[paren](https://docs.x.org/p%281%29)");
}

static void
test_links_list(void)
{
    rag_html_doc d;
    char err[256];
    const char *h = "<nav><a href='/a'>A</a><a href='/a#x'>A2</a></nav>"
                    "<main><a href='b'>B</a><a href='mailto:x@y'>m</a>"
                    "<a href='https://e.org/'>E</a></main>";

    CHECK_INT(rag_html_convert(h, strlen(h), "https://d.org/g/p", NULL, NULL,
                               &d, err, sizeof(err)),
              0);
    CHECK_INT(d.nlinks, 3);
    if (d.nlinks == 3) {
        CHECK_STR(d.links[0], "https://d.org/a");
        CHECK_STR(d.links[1], "https://d.org/g/b");
        CHECK_STR(d.links[2], "https://e.org/");
    }
    rag_html_doc_free(&d);
}

static void
test_admonitions(void)
{
    CHECK_INT(conv("<main><div class='admonition note'><p "
                   "class=admonition-title>Note</p><p>Sphinx body.</p>"
                   "<p>Second.</p></div>"
                   "<div class='theme-admonition theme-admonition-tip "
                   "alert'><div class=admonitionHeading_x><span><svg>"
                   "</svg></span>tip</div><div class=admonitionContent_y>"
                   "<p>Docu body.</p></div></div>"
                   "<div class=warning><h3 class=title>Warning</h3><p>PG "
                   "body.</p></div></main>",
                   NULL),
              0);
    HAS("> **Note:** Sphinx body.\n>\n> Second.");
    HAS("> **Tip:** Docu body.");
    HAS("> **Warning:** PG body.");
}

static void
test_chrome(void)
{
    CHECK_INT(conv("<body><header><nav>Menu</nav></header><div class=navheader>"
                   "Prev Next</div><main><a href=#c class=skip-link>Skip to "
                   "main content</a><p>Real\xe2\x80\x8b  text\n\t here.</p>"
                   "<script>var x;</script><style>p{}</style><button>Copy"
                   "</button><a href='https://gh/edit'>Edit this page</a>"
                   "<noscript>js</noscript><aside>side</aside></main>"
                   "<footer>foot</footer></body>",
                   NULL),
              0);
    CHECK_STR(md, "Real text here.\n");
}

/* Main content without selectors (issue 16): the element holding most
 * of the page's text and its title heading; a site-name <h1> that only
 * links home does not count; asciidoc's title sits in a sibling before
 * the content, and the footer after it stays out. */
static void
test_main_content(void)
{
    char prose[2048] = "";

    for (int i = 0; i < 20; i++)
        strcat(prose, "<p>Some real documentation prose, long enough.</p>");
    {
        char h[8192];
        snprintf(h, sizeof(h),
                 "<head><title>Making queries &#8212; Django docs</title>"
                 "</head><body><div id=hd><h1><a href='/'>Django docs</a>"
                 "</h1><div class=nav><a href=p>previous</a> | <a href=u>up"
                 "</a></div></div><div id=bd><div class=yui-b><div "
                 "class=section><h1>Making queries</h1>%s</div></div>"
                 "<div class=yui-b id=sidebar><h3>Last update:</h3><p>Nov "
                 "11</p></div></div><div id=ft><a href=p>previous</a></div>"
                 "</body>",
                 prose);
        CHECK_INT(conv(h, NULL), 0);
        CHECK(strncmp(md, "# Making queries", 16) == 0);
        HASNT("Last update");
        HASNT("previous");
        HASNT("Django docs");
        CHECK_STR(title, "Making queries");
    }
    {
        char h[8192];
        snprintf(h, sizeof(h),
                 "<head><title>git-add(1)</title></head><body><div "
                 "id=header><h1>git-add(1) Manual Page</h1><h2>NAME</h2><div "
                 "class=sectionbody><p>git-add - Add file contents</p></div>"
                 "</div><div id=content>%s</div><div id=footer>Last updated "
                 "2024-05-31</div></body>",
                 prose);
        CHECK_INT(conv(h, NULL), 0);
        HAS("# git-add(1) Manual Page");
        HAS("git-add - Add file contents");
        HAS("Some real documentation prose");
        HASNT("Last updated");
        CHECK_STR(title, "git-add(1)");
    }
}

/* Docusaurus <Tabs> (WAI-ARIA markup as its theme renders it): every
 * panel, hidden ones too, under its tab's label (issue 16). */
static void
test_tabs(void)
{
    CHECK_INT(conv("<main><h2 id=install>Install</h2><div class='tabs-container"
                   " tabList__CuJ'><ul role=tablist class=tabs><li role=tab "
                   "aria-selected=true class='tabs__item "
                   "tabs__item--active'>Debian</li><li role=tab "
                   "aria-selected=false class=tabs__item>macOS</li></ul>"
                   "<div class=margin-top--md><div role=tabpanel "
                   "class=tabItem_Ymn6><p>apt-get install x</p></div><div "
                   "role=tabpanel class=tabItem_Ymn6 hidden><p>brew install "
                   "x</p></div></div></div></main>",
                   NULL),
              0);
    HAS("**Debian:**\n\napt-get install x\n\n**macOS:**\n\nbrew install x");
    HASNT("- Debian");
}

/* A titled admonition keeps its kind; an untitled one says its kind;
 * a title that is the kind is not repeated. */
static void
test_admonition_kind(void)
{
    CHECK_INT(conv("<main><div class='theme-admonition theme-admonition-warning"
                   " admonition_xJq3 alert alert--warning'><div "
                   "class=admonitionHeading_Gvgb>Back up first</div><div "
                   "class=admonitionContent_BuS1><p>Copy the data.</p></div>"
                   "</div><div class='admonition seealso'><p "
                   "class=admonition-title>See also</p><p>Other.</p></div>"
                   "</main>",
                   NULL),
              0);
    HAS("> **Warning: Back up first**\n>\n> Copy the data.");
    HAS("> **See also:** Other.");
}

/* Blog listing, tag and author pages are recognised; canonical links
 * are reported absolute. */
static void
test_listing_canonical(void)
{
    rag_html_doc d;
    char err[256];
    const char *list =
        "<html><head><link rel=canonical href='/blog/tags/x'></head><body>"
        "<div class='main-wrapper blog-wrapper blog-tags-post-list-page'>"
        "<main><article><h2><a href=/blog/a>A</a></h2><p>Teaser</p>"
        "</article></main></div></body></html>";
    const char *teasers =
        "<body><main><article><h2><a href=/a>A</a></h2><p>x</p></article>"
        "<article><h2><a href=/b>B</a></h2><p>y</p></article></main></body>";
    const char *post = "<body><main><article><h1>Post</h1><p>Body text."
                       "</p></article></main></body>";

    CHECK_INT(rag_html_convert(list, strlen(list), "https://d.org/blog/tags/x/",
                               NULL, NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.listing, 1);
    CHECK_STR(d.canonical, "https://d.org/blog/tags/x");
    rag_html_doc_free(&d);
    CHECK_INT(rag_html_convert(teasers, strlen(teasers), "https://d.org/blog",
                               NULL, NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.listing, 1);
    CHECK_STR(d.canonical, "");
    rag_html_doc_free(&d);
    CHECK_INT(rag_html_convert(post, strlen(post), "https://d.org/blog/a", NULL,
                               NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.listing, 0);
    rag_html_doc_free(&d);
}

/* A table of contents (a heading and a nested list of links, as
 * Sphinx's contents.html or PostgreSQL's part pages) is flagged toc;
 * a list of links each with a description (git.html's command list,
 * PostgreSQL's sql-commands.html) and a page with a few links in its
 * prose are not. */
static void
test_toc(void)
{
    rag_html_doc d;
    char err[256];
    rag_buf toc, cmds, prose;

    rag_buf_init(&toc, 0);
    rag_buf_init(&cmds, 0);
    rag_buf_init(&prose, 0);
    rag_buf_puts(&toc, "<html><body><div class=nav>Home</div><div id=main>"
                       "<h1>Part III. Server Administration</h1>"
                       "<p>This part covers administration.</p><ul>");
    rag_buf_puts(&cmds, "<html><body><div id=main><h1>SQL Commands</h1>"
                        "<p>This part contains reference information.</p><dl>");
    rag_buf_puts(&prose, "<html><body><div id=main><h1>Joins</h1>");
    for (int i = 0; i < 12; i++) {
        char e[512];
        snprintf(e, sizeof(e),
                 "<li><a href='c%d.html'>%d. Server Setup and Operation</a>"
                 "<ul><li><a href='c%d.html#s1'>%d.1. Creating a Cluster</a>"
                 "</li></ul></li>",
                 i, i + 16, i, i + 16);
        rag_buf_puts(&toc, e);
        snprintf(e, sizeof(e),
                 "<dt><a href='sql-%d.html'>ALTER THING %d</a></dt>"
                 "<dd>change the definition of a thing in the database</dd>",
                 i, i);
        rag_buf_puts(&cmds, e);
        snprintf(e, sizeof(e),
                 "<p>Queries can access multiple tables at once, see "
                 "<a href='q%d.html'>queries</a> for the rows they "
                 "return.</p>",
                 i);
        rag_buf_puts(&prose, e);
    }
    rag_buf_puts(&toc, "</ul></div></body></html>");
    rag_buf_puts(&cmds, "</dl></div></body></html>");
    rag_buf_puts(&prose, "</div></body></html>");

    CHECK_INT(rag_html_convert(toc.data, toc.len, "https://d.org/admin.html",
                               NULL, NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.toc, 1);
    CHECK_INT(d.listing, 0);
    CHECK_INT(d.nlinks, 12); /* still followed (fragments dropped) */
    rag_html_doc_free(&d);
    CHECK_INT(rag_html_convert(cmds.data, cmds.len, "https://d.org/sql.html",
                               NULL, NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.toc, 0);
    rag_html_doc_free(&d);
    CHECK_INT(rag_html_convert(prose.data, prose.len, "https://d.org/j.html",
                               NULL, NULL, &d, err, sizeof(err)),
              0);
    CHECK_INT(d.toc, 0);
    rag_html_doc_free(&d);
    /* the same list linking out of the site (a glossary whose terms link
     * to an encyclopedia, PostgreSQL's acronyms.html) is content */
    {
        rag_buf out;
        rag_buf_init(&out, 0);
        rag_buf_puts(&out, "<body><h1>Acronyms</h1><dl>");
        for (int i = 0; i < 12; i++) {
            char e[256];
            snprintf(e, sizeof(e),
                     "<dt>ACR%d</dt><dd><a href='https://wiki.org/A%d'>"
                     "A Common Reference number %d</a></dd>",
                     i, i, i);
            rag_buf_puts(&out, e);
        }
        rag_buf_puts(&out, "</dl></body>");
        CHECK_INT(rag_html_convert(out.data, out.len, "https://d.org/acr.html",
                                   NULL, NULL, &d, err, sizeof(err)),
                  0);
        CHECK_INT(d.toc, 0);
        CHECK_INT((int)d.main_links, 0);
        rag_html_doc_free(&d);
        rag_buf_free(&out);
    }
    /* a few links are a menu, not a table of contents to skip */
    {
        const char *few = "<body><h1>Guides</h1><ul><li><a href=a>Install"
                          "</a></li><li><a href=b>Upgrade</a></li></ul></body>";
        CHECK_INT(rag_html_convert(few, strlen(few), "https://d.org/g", NULL,
                                   NULL, &d, err, sizeof(err)),
                  0);
        CHECK_INT(d.toc, 0);
        rag_html_doc_free(&d);
    }
    rag_buf_free(&toc);
    rag_buf_free(&cmds);
    rag_buf_free(&prose);
}

static void
test_selectors(void)
{
    const char *h = "<body><div id=nav>N</div><div class='x body'>B</div>"
                    "<div role=main>R</div><article>A</article></body>";

    /* no selector and no element holding most of the text: all of it */
    CHECK_INT(conv(h, NULL), 0);
    CHECK_STR(md, "N\n\nB\n\nR\n\nA\n");
    CHECK_INT(conv(h, "div.body"), 0);
    CHECK_STR(md, "B\n");
    CHECK_INT(conv(h, "div[role=main]"), 0);
    CHECK_STR(md, "R\n");
    CHECK_INT(conv(h, "#missing, div[role=\"main\"]"), 0);
    CHECK_STR(md, "R\n");
    CHECK_INT(conv(h, "#nav"), 0);
    CHECK_STR(md, "N\n");
    CHECK_INT(rag_html_selector_check("div > p"), -1);
    CHECK_INT(rag_html_selector_check("div[role=main"), -1);
    CHECK_INT(rag_html_selector_check("article, main, div.body"), 0);
}

static void
test_limits(void)
{
    rag_html_doc d;
    char err[256];
    size_t n = RAG_HTML_MAX_INPUT + 1;
    char *big = malloc(n);

    CHECK(big != NULL);
    if (big) {
        memset(big, 'a', n);
        CHECK_INT(rag_html_convert(big, n, "https://d.org/", NULL, NULL, &d,
                                   err, sizeof(err)),
                  -1);
        free(big);
    }
    /* deep nesting does not recurse without bound */
    {
        char *deep = malloc(200000);
        size_t o = 0;
        CHECK(deep != NULL);
        if (deep) {
            for (int i = 0; i < 20000; i++)
                o += (size_t)sprintf(deep + o, "<div>");
            sprintf(deep + o, "x");
            CHECK_INT(rag_html_convert(deep, strlen(deep), "https://d.org/",
                                       NULL, NULL, &d, err, sizeof(err)),
                      0);
            rag_html_doc_free(&d);
            free(deep);
        }
    }
    CHECK_INT(rag_html_convert("", 0, "https://d.org/", NULL, NULL, &d, err,
                               sizeof(err)) <= 0,
              1);
    rag_html_doc_free(&d);
}

int
main(void)
{
    RUN(test_headings);
    RUN(test_code);
    RUN(test_table);
    RUN(test_lists);
    RUN(test_links);
    RUN(test_links_list);
    RUN(test_admonitions);
    RUN(test_chrome);
    RUN(test_main_content);
    RUN(test_tabs);
    RUN(test_admonition_kind);
    RUN(test_listing_canonical);
    RUN(test_toc);
    RUN(test_selectors);
    RUN(test_limits);
    UNIT_DONE();
}
