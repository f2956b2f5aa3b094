#!/usr/bin/env node
// Parses Apex files with @apexdevtools/apex-parser, the ANTLR grammar that aims to match
// the platform compiler, and prints one JSON document on stdout:
//
//   {"files": [{"path", "kind", "errors": [{"line", "column", "message"}], "outline"?}]}
//
// Usage: node parse_apex.mjs [--outline] FILE...
//   .cls -> compilationUnit, .trigger -> triggerUnit, .apex -> anonymousUnit.
//   --outline adds what the coverage estimate and the bulk-safety checks need: types,
//   methods, statement lines, calls, object creations, DML statements, SOQL queries,
//   loops, local variable types and field initialisers.
// Exit status: 0 no syntax error, 1 at least one syntax error, 2 bad usage or unreadable file.
//
// Parsing proves syntax only. No org is reachable from here, so nothing is compiled
// against a schema and no test runs.

import { readFileSync } from "node:fs";
import {
  AnonymousUnitContext,
  ApexErrorListener,
  ApexParserFactory,
  BlockContext,
  ClassDeclarationContext,
  ConstructorDeclarationContext,
  DoWhileStatementContext,
  DotExpressionContext,
  EnhancedForControlContext,
  FieldDeclarationContext,
  ForStatementContext,
  InsertStatementContext,
  LocalVariableDeclarationContext,
  MethodCallContext,
  MethodDeclarationContext,
  NewExpressionContext,
  SoqlLiteralContext,
  StatementContext,
  TriggerUnitContext,
  UpdateStatementContext,
  WhileStatementContext,
} from "@apexdevtools/apex-parser";

class CollectingListener extends ApexErrorListener {
  constructor() {
    super();
    this.errors = [];
  }

  apexSyntaxError(line, column, message) {
    this.errors.push({ line, column, message });
  }
}

function kindOf(path) {
  if (path.endsWith(".trigger")) return "trigger";
  if (path.endsWith(".apex")) return "anonymous";
  return "class";
}

// The text exactly as written (getText() drops the whitespace between tokens).
function sourceText(ctx) {
  if (!ctx || !ctx.start || !ctx.stop) return "";
  return ctx.start.getInputStream().getText(ctx.start.start, ctx.stop.stop);
}

function children(ctx) {
  return ctx && ctx.children ? ctx.children : [];
}

function* walk(ctx) {
  yield ctx;
  for (const child of children(ctx)) {
    if (child && child.children !== undefined) yield* walk(child);
  }
}

function modifiersOf(ctx) {
  // Modifiers sit on the enclosing typeDeclaration (top level) or classBodyDeclaration
  // (nested): the parent or the grandparent.
  for (let holder = ctx.parentCtx, depth = 0; holder && depth < 2; holder = holder.parentCtx, depth++) {
    if (typeof holder.modifier_list === "function") {
      return holder.modifier_list().map((m) => sourceText(m).replace(/\s+/g, "").toLowerCase());
    }
  }
  return [];
}

function callArguments(expressionList) {
  return expressionList ? expressionList.expression_list().map(sourceText) : [];
}

// Calls, creations, DML and local variable types found under `root`, not descending
// into nested class declarations (they are outlined on their own).
function bodyFacts(root) {
  const calls = [];
  const creations = [];
  const dml = [];
  const locals = {};
  const loops = [];
  const queries = [];
  const statementLines = new Set();
  const stack = [...children(root)];
  while (stack.length) {
    const node = stack.pop();
    if (!node || node.children === undefined) continue;
    if (node instanceof ClassDeclarationContext) continue;
    if (node instanceof StatementContext && !(node.block() instanceof BlockContext)) {
      // Salesforce counts executable lines; System.debug calls are not counted.
      // [src: apex_deploying_ide.htm "Calls to System.debug aren't counted"]
      if (!/^system\s*\.\s*debug\s*\(/i.test(sourceText(node))) {
        statementLines.add(node.start.line);
      }
    }
    if (node instanceof MethodCallContext && node.id()) {
      calls.push({
        qualifier: null,
        name: sourceText(node.id()),
        args: callArguments(node.expressionList()),
        line: node.start.line,
      });
    } else if (node instanceof DotExpressionContext && node.dotMethodCall()) {
      const call = node.dotMethodCall();
      calls.push({
        qualifier: sourceText(node.expression()),
        name: sourceText(call.anyId()),
        args: callArguments(call.expressionList()),
        line: node.start.line,
      });
    } else if (node instanceof NewExpressionContext) {
      const creator = node.creator();
      const rest = creator.classCreatorRest && creator.classCreatorRest();
      creations.push({
        type: sourceText(creator.createdName()),
        args: rest && rest.arguments ? callArguments(rest.arguments().expressionList()) : [],
        line: node.start.line,
      });
    } else if (node instanceof InsertStatementContext || node instanceof UpdateStatementContext) {
      dml.push({
        operation: node instanceof InsertStatementContext ? "insert" : "update",
        target: sourceText(node.expression()),
        line: node.start.line,
      });
    } else if (
      node instanceof ForStatementContext ||
      node instanceof WhileStatementContext ||
      node instanceof DoWhileStatementContext
    ) {
      loops.push({ startLine: node.start.line, endLine: node.stop.line });
    } else if (node instanceof SoqlLiteralContext) {
      queries.push({ text: sourceText(node), line: node.start.line });
    }
    if (node instanceof EnhancedForControlContext) {
      locals[sourceText(node.id())] = sourceText(node.typeRef());
    } else if (node instanceof LocalVariableDeclarationContext) {
      const type = sourceText(node.typeRef());
      for (const declarator of node.variableDeclarators().variableDeclarator_list()) {
        locals[sourceText(declarator.id())] = type;
      }
    }
    stack.push(...children(node));
  }
  return {
    calls,
    creations,
    dml,
    locals,
    loops,
    queries,
    statementLines: [...statementLines].sort((a, b) => a - b),
  };
}

function parametersOf(formalParameters) {
  const list = formalParameters.formalParameterList();
  const parameters = {};
  for (const parameter of list ? list.formalParameter_list() : []) {
    parameters[sourceText(parameter.id())] = sourceText(parameter.typeRef());
  }
  return parameters;
}

function outlineClass(ctx, outerName) {
  const name = outerName ? `${outerName}.${sourceText(ctx.id())}` : sourceText(ctx.id());
  const modifiers = modifiersOf(ctx);
  const type = {
    name,
    modifiers,
    implements: ctx.typeList() ? ctx.typeList().typeRef_list().map(sourceText) : [],
    startLine: ctx.start.line,
    endLine: ctx.stop.line,
    methods: [],
    fields: [],
  };
  const nested = [];
  for (const declaration of ctx.classBody().classBodyDeclaration_list()) {
    const member = declaration.memberDeclaration();
    if (!member) continue;
    const memberModifiers = declaration
      .modifier_list()
      .map((m) => sourceText(m).replace(/\s+/g, "").toLowerCase());
    const method = member.methodDeclaration();
    const constructor = member.constructorDeclaration();
    const field = member.fieldDeclaration();
    const inner = member.classDeclaration();
    if (method || constructor) {
      const decl = method || constructor;
      const methodName = method
        ? sourceText(method.id())
        : sourceText(constructor.qualifiedName());
      type.methods.push({
        name: methodName,
        isConstructor: Boolean(constructor),
        modifiers: memberModifiers,
        startLine: decl.start.line,
        endLine: decl.stop.line,
        parameters: parametersOf(decl.formalParameters()),
        ...bodyFacts(decl.block()),
      });
    } else if (field instanceof FieldDeclarationContext) {
      for (const declarator of field.variableDeclarators().variableDeclarator_list()) {
        type.fields.push({
          name: sourceText(declarator.id()),
          type: sourceText(field.typeRef()),
          modifiers: memberModifiers,
          initializer: declarator.expression() ? sourceText(declarator.expression()) : null,
          line: declarator.start.line,
        });
      }
    } else if (inner) {
      nested.push(...outlineClass(inner, name));
    }
  }
  return [type, ...nested];
}

function outline(tree) {
  if (tree instanceof TriggerUnitContext) {
    const ids = tree.id_list().map(sourceText);
    return {
      trigger: {
        name: ids[0],
        object: ids[1],
        events: tree.triggerCase_list().map((c) => sourceText(c).replace(/\s+/g, " ").toLowerCase()),
        ...bodyFacts(tree.triggerBlock()),
      },
      types: [],
    };
  }
  if (tree instanceof AnonymousUnitContext) {
    return { types: [], anonymous: bodyFacts(tree) };
  }
  const types = [];
  for (const node of walk(tree)) {
    if (node instanceof ClassDeclarationContext) {
      types.push(...outlineClass(node, null));
      break; // the top-level class; nested ones are outlined by outlineClass
    }
  }
  return { types };
}

function parseFile(path, wantOutline) {
  const source = readFileSync(path, "utf8");
  const listener = new CollectingListener();
  const { parser } = ApexParserFactory.createLexerAndParser(source, listener);
  const kind = kindOf(path);
  let tree;
  if (kind === "trigger") tree = parser.triggerUnit();
  else if (kind === "anonymous") tree = parser.anonymousUnit();
  else tree = parser.compilationUnit();
  const result = { path, kind, errors: listener.errors };
  if (wantOutline && listener.errors.length === 0) result.outline = outline(tree);
  return result;
}

function main(argv) {
  const wantOutline = argv.includes("--outline");
  const paths = argv.filter((a) => a !== "--outline");
  if (paths.length === 0 || paths.some((p) => p.startsWith("--"))) {
    process.stderr.write("usage: node parse_apex.mjs [--outline] FILE...\n");
    return 2;
  }
  const files = [];
  for (const path of paths) {
    try {
      files.push(parseFile(path, wantOutline));
    } catch (error) {
      process.stderr.write(`${path}: ${error.message}\n`);
      return 2;
    }
  }
  process.stdout.write(JSON.stringify({ files }) + "\n");
  return files.some((f) => f.errors.length > 0) ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
