/* remove_dead.c: drop nodes whose outputs nobody reads (and that are not graph outputs),
 * iterating until nothing changes, then compact the graph. */
#include "passes.h"

bool pass_remove_dead(Graph *g, const PassOptions *o, Diag *d) {
    (void)o;
    (void)d;
    bool changed = true;
    while (changed) {
        changed = false;
        for (int i = g->nnodes - 1; i >= 0; i--) {
            Node *n = &g->nodes[i];
            if (n->dead)
                continue;
            bool used = false;
            for (int k = 0; k < n->nout && !used; k++)
                used = n->out[k] >= 0 && graph_use_count(g, n->out[k]) > 0;
            if (!used) {
                n->dead = true;
                changed = true;
            }
        }
    }
    graph_compact(g);
    return true;
}
