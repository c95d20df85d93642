/* exec mode: run a command in the namespaces and root of a running
 * container. docs/internals.md "The helper's exec mode" is the contract. */
#ifndef TSBOX_EXEC_H
#define TSBOX_EXEC_H

/* `tsbox-helper exec [--args FD] --target PID OPTION... -- CMD [ARG...]`; argv[0] is "exec". */
_Noreturn void exec_main(int argc, char **argv);

#endif
