'use strict'
// Sequelize 6 (a Node ORM) as an application uses it: sync() of models with associations (a many-to-many
// through table with a composite primary key), migrations through its QueryInterface (addColumn, addIndex,
// renameColumn, changeColumn, removeColumn, describeTable, showAllTables), queries with includes (joins),
// upserts, managed transactions that roll back, the ORM's error classes for unique and foreign-key
// violations, and a model with a UUID primary key and JSONB / JSON columns (queries into the documents,
// containment, upserts on the uuid key). Run through tests/drivers/run.sh, against OmenDB and against the PostgreSQL of OMENDB_TEST_PG.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { Sequelize, DataTypes } = require('sequelize')

const PLAINTEXT = process.env.DRIVER_TESTS_PLAINTEXT === '1'
const RUN = `sq_${crypto.randomBytes(4).toString('hex')}`

const sequelize = new Sequelize(process.env.PGDATABASE || 'omendb', process.env.PGUSER || 'owner',
  process.env.PGPASSWORD || '', {
    dialect: 'postgres',
    host: process.env.PGHOST || '127.0.0.1',
    port: Number(process.env.PGPORT),
    logging: false,
    dialectOptions: PLAINTEXT ? {} : { ssl: { rejectUnauthorized: false } },
    pool: { max: 2 }
  })

const Author = sequelize.define('Author', {
  name: { type: DataTypes.STRING(80), allowNull: false, unique: true },
  bio: DataTypes.TEXT
}, { tableName: `${RUN}_authors` })

const Book = sequelize.define('Book', {
  title: { type: DataTypes.STRING(200), allowNull: false },
  year: DataTypes.INTEGER,
  price: DataTypes.DECIMAL(8, 2)
}, { tableName: `${RUN}_books` })

const Tag = sequelize.define('Tag', {
  label: { type: DataTypes.STRING(30), allowNull: false, unique: true }
}, { tableName: `${RUN}_tags`, timestamps: false })

const Order = sequelize.define('Order', {
  id: { type: DataTypes.UUID, defaultValue: DataTypes.UUIDV4, primaryKey: true },
  details: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
  raw: DataTypes.JSON
}, { tableName: `${RUN}_orders` })

Author.hasMany(Order, { foreignKey: { name: 'authorId', allowNull: false }, onDelete: 'CASCADE' })
Order.belongsTo(Author, { foreignKey: { name: 'authorId', allowNull: false } })

Author.hasMany(Book, { foreignKey: { name: 'authorId', allowNull: false }, onDelete: 'CASCADE' })
Book.belongsTo(Author, { foreignKey: { name: 'authorId', allowNull: false } })
Book.belongsToMany(Tag, { through: `${RUN}_book_tags`, timestamps: false })
Tag.belongsToMany(Book, { through: `${RUN}_book_tags`, timestamps: false })

describe('sequelize', () => {
  before(async () => {
    await sequelize.authenticate()
    await sequelize.sync({ force: true })
  })

  after(async () => {
    await sequelize.drop()
    await sequelize.close()
  })

  it('creates the tables, a composite primary key for the through table', async () => {
    const qi = sequelize.getQueryInterface()
    const tables = (await qi.showAllTables()).filter((t) => t.startsWith(RUN)).sort()
    assert.deepEqual(tables, [`${RUN}_authors`, `${RUN}_book_tags`, `${RUN}_books`, `${RUN}_orders`, `${RUN}_tags`])
    const through = await qi.describeTable(`${RUN}_book_tags`)
    assert.equal(through.BookId.primaryKey, true)
    assert.equal(through.TagId.primaryKey, true)
    const authors = await qi.describeTable(`${RUN}_authors`)
    assert.equal(authors.id.primaryKey, true)
    assert.match(authors.id.defaultValue, /^nextval\(/)
    assert.equal(authors.name.allowNull, false)
    assert.equal(authors.name.type, 'CHARACTER VARYING(80)')
  })

  it('writes and reads through associations', async () => {
    const ada = await Author.create({ name: 'Ada', Books: [{ title: 'Notes', year: 1843, price: '9.50' }] },
      { include: [Book] })
    await Book.create({ title: 'Letters', year: 1850, authorId: ada.id })
    const found = await Author.findOne({ where: { name: 'Ada' }, include: [{ model: Book }], order: [[Book, 'year', 'ASC']] })
    assert.deepEqual(found.Books.map((b) => b.title), ['Notes', 'Letters'])
    assert.equal(found.Books[0].price, '9.50')
    const [classic, science] = await Tag.bulkCreate([{ label: 'classic' }, { label: 'science' }], { returning: true })
    await found.Books[0].addTags([classic, science])
    const tagged = await Book.findAll({ include: [{ model: Tag, where: { label: 'science' } }] })
    assert.deepEqual(tagged.map((b) => b.title), ['Notes'])
    assert.equal(await Book.count({ where: { authorId: ada.id } }), 2)
  })

  it('upserts and reports constraint violations as Sequelize errors', async () => {
    const [tag] = await Tag.upsert({ id: 100, label: 'history' }, { returning: true })
    assert.equal(tag.label, 'history')
    await Tag.upsert({ id: 100, label: 'History' })
    assert.equal((await Tag.findByPk(100)).label, 'History')
    await assert.rejects(Author.create({ name: 'Ada' }), (e) => e.name === 'SequelizeUniqueConstraintError')
    await assert.rejects(Book.create({ title: 'Orphan', authorId: 999999 }),
      (e) => e.name === 'SequelizeForeignKeyConstraintError')
  })

  it('rolls back a managed transaction that throws', async () => {
    await assert.rejects(sequelize.transaction(async (t) => {
      await Author.create({ name: 'Bob' }, { transaction: t })
      await Author.create({ name: 'Bob' }, { transaction: t })
    }), (e) => e.name === 'SequelizeUniqueConstraintError')
    assert.equal(await Author.count({ where: { name: 'Bob' } }), 0)
    await sequelize.transaction(async (t) => {
      const bob = await Author.create({ name: 'Bob' }, { transaction: t })
      await Book.create({ title: 'Draft', authorId: bob.id }, { transaction: t })
    })
    assert.equal(await Book.count({ include: [{ model: Author, where: { name: 'Bob' } }] }), 1)
  })

  it('migrates with the QueryInterface', async () => {
    const qi = sequelize.getQueryInterface()
    const books = `${RUN}_books`
    await qi.addColumn(books, 'isbn', { type: DataTypes.STRING(20), allowNull: true })
    await qi.addIndex(books, ['year'], { name: `${RUN}_books_year_idx` })
    await qi.renameColumn(books, 'isbn', 'isbn13')
    await qi.changeColumn(books, 'year', { type: DataTypes.BIGINT, allowNull: true })
    let columns = await qi.describeTable(books)
    assert.ok(columns.isbn13)
    assert.equal(columns.year.type, 'BIGINT')
    const indexes = await qi.showIndex(books)
    assert.ok(indexes.some((i) => i.name === `${RUN}_books_year_idx`), JSON.stringify(indexes))
    await qi.removeIndex(books, `${RUN}_books_year_idx`)
    await qi.removeColumn(books, 'isbn13')
    columns = await qi.describeTable(books)
    assert.equal(columns.isbn13, undefined)
    assert.equal(await Book.count(), 3)
  })

  it('keeps uuid keys and json documents', async () => {
    const { Op } = require('sequelize')
    const cy = await Author.create({ name: 'Cy' })
    const red = await Order.create({ authorId: cy.id, details: { color: 'red', size: 3, tags: ['a', 'b'], dims: { w: 2 } }, raw: [1, 'x'] })
    await Order.create({ authorId: cy.id, details: { color: 'blue', size: 5 } })
    assert.match(red.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const back = await Order.findByPk(red.id)
    assert.deepEqual(back.details, { color: 'red', size: 3, tags: ['a', 'b'], dims: { w: 2 } })
    assert.deepEqual(back.raw, [1, 'x'])
    assert.equal((await Order.findOne({ where: { details: { color: 'blue' } } })).details.size, 5)
    assert.equal(await Order.count({ where: { 'details.dims.w': 2 } }), 1)
    assert.equal(await Order.count({ where: { details: { [Op.contains]: { tags: ['b'] } } } }), 1)
    const withAuthor = await Author.findOne({ where: { name: 'Cy' }, include: [{ model: Order }], order: [[Order, 'createdAt', 'ASC']] })
    assert.deepEqual(withAuthor.Orders.map((o) => o.details.color), ['red', 'blue'])
    await Order.upsert({ id: red.id, authorId: cy.id, details: { color: 'green' } })
    assert.deepEqual((await Order.findByPk(red.id)).details, { color: 'green' })
    await back.update({ details: { ...back.details, size: 4 } })
    assert.equal((await Order.findByPk(red.id)).details.size, 4)
  })

  it('cascades a delete through the foreign key', async () => {
    const ada = await Author.findOne({ where: { name: 'Ada' } })
    await ada.destroy()
    assert.equal(await Book.count({ where: { authorId: ada.id } }), 0)
  })
})
