/* embed.c: build-time tool that turns a text file into a C string constant, so the runtime
 * header ships inside the qcc binary. Usage: qcc-embed SYMBOL IN OUT. */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SYMBOL IN OUT\n", argv[0]);
        return 1;
    }
    FILE *in = fopen(argv[2], "rb");
    FILE *out = fopen(argv[3], "wb");
    if (!in || !out) {
        perror("qcc-embed");
        return 1;
    }
    fprintf(out, "/* generated from %s by qcc-embed: do not edit */\n", "qcc_rt.h");
    fprintf(out, "const char %s[] = {\n", argv[1]);
    int c, col = 0;
    while ((c = fgetc(in)) != EOF) {
        fprintf(out, "%d,", c);
        if (++col == 24) {
            fputc('\n', out);
            col = 0;
        }
    }
    fprintf(out, "0};\n");
    fclose(in);
    return fclose(out) == 0 ? 0 : 1;
}
